"""Checks of 06-half-close (lesson 4.5, the four-way close), upload_server.py: the grader is
every client. A client uploads, ends the upload with its half-close, shutdown(SHUT_WR), and
the server replies ``<byte count> <sha256 hex>\\n`` afterwards, then closes. Every check runs
the server afresh and judges one contract point. (The checks of upload_client.py are in
test_upload_client.py.)"""

from __future__ import annotations

import hashlib
import random
import signal

import pytest

from grader.language import Message
from grader.session import events, kernel, peers
from grader.session.feedback import (NOTHING, RESET_CAUSES, RESET_NOT_FIN, THE_GRADER,
                                     YOUR_SERVER, capitalized, ending, in_close_wait,
                                     line_arrival, show_line, status)
from grader.session.kernel import TcpState
from grader.session.waiting import wait_until
from grader.session.steps import (connect_or_fail, connected_sockets,
                                 expect_clean_stop, expect_restart_listens,
                                 fail_crash_first, first_event_at, let_crash_show,
                                 start_on_default_port, start_server, upload_reply)

SERVER = "upload_server.py"

MEBIBYTE = random.Random(16).randbytes(1024 * 1024)
SOME_BYTES = random.Random(26).randbytes(3000)
FIRST_UPLOAD = random.Random(36).randbytes(100 * 1024)
SECOND_UPLOAD = random.Random(46).randbytes(50 * 1024)
PIECE = 64 * 1024
PAUSE = 0.05
EMPTY_REPLY = b"0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"

SEND_TIMEOUT = 5.0      # the ``send`` of a peer connection
REPLY_TIMEOUT = 5.0     # after the grader's FIN: the server's reply line
EARLY_WINDOW = 1.0      # the server must stay silent this long while the upload is open
CLOSE_TIMEOUT = 2.0     # after the reply: the server's FIN


class Upload:
    """One client of upload_server.py: send, half-close, read the reply line."""

    def __init__(self, connection: peers.PeerConnection) -> None:
        self.connection = connection
        self.data = b""
        self.sent_all = True
        self.reply: peers.Reception | None = None

    def send(self, data: bytes, piece: int | None = None, pause: float = 0.0) -> bool:
        self.data = data
        pieces = [data[offset:offset + piece] for offset in range(0, len(data), piece)] \
            if piece else [data]
        self.sent_all = self.connection.send_pieces(pieces, pause) if data else True
        return self.sent_all

    def finish(self) -> peers.Reception:
        """Half-close (the end of the upload), then wait for the reply line."""
        self.connection.shutdown_write()
        self.reply = self.connection.read_line(REPLY_TIMEOUT)
        return self.reply

    def bytes_sent(self) -> int:
        return sum(len(event.data) for event in self.connection.log.of_type(events.Sent))


def upload_client(connect, port: int, name: str) -> Upload:
    return Upload(connect_or_fail(connect, port, name))


def server_trouble(server) -> Message:
    """`` Your server ended with exit status 0.``, when it is no longer running. Nothing when
    it runs, or when it printed a traceback: then the crash leads the feedback
    (``fail_crash_first``). A crash takes a moment to show, so it gets that moment first."""
    let_crash_show(server)
    if server.running() or server.has_traceback():
        return NOTHING
    now = status(server)
    return Message(f" Your server {now.en}.", f"服务器{now.zh}。")


def expect_reply(upload: Upload, server, what: str, what_zh: str,
                 hint: str = "", hint_zh: str = "") -> None:
    """The reply must be exactly ``<byte count> <sha256 hex>\\n`` of what was sent."""
    expected = upload_reply(upload.data)
    reply = upload.reply or peers.Reception(b"", "timeout")
    if reply.data == expected or right_numbers(reply.data, upload.data):
        return  # the exact layout of the line is test_server_reply_format's
    trouble = server_trouble(server)
    if not upload.sent_all:
        cause = upload_cut_short(upload)
        fail_crash_first(
            server,
            f"the grader uploaded {what}; {cause.en}.{trouble.en} The upload is complete only "
            f"when recv() returns b'' (the client's FIN): read in a loop until then. Closing a "
            f"socket with unread data resets the connection (lesson 4.5).{hint}",
            f"评分程序上传了{what_zh}；{cause.zh}。{trouble.zh}只有 recv() 返回 b''（客户端的 FIN）"
            f"才表示上传结束：请循环读取直到那时。带着未读数据关闭套接字会重置连接（第 4.5 节）。{hint_zh}")
    if not reply.data:
        got = line_arrival(reply, REPLY_TIMEOUT, expected)
        fail_crash_first(
            server,
            f"the grader uploaded {what}, then half-closed (shutdown(SHUT_WR)) and {got.en}."
            f"{trouble.en} Expected exactly {show_line(expected)}: the byte count, a space, the "
            f"SHA-256 in hex, and a newline. Once recv() has returned b'', send that line "
            f"(lesson 4.5)."
            f"{hint}",
            f"评分程序上传了{what_zh}，然后半关闭（shutdown(SHUT_WR)），结果{got.zh}。{trouble.zh}"
            f"应当恰好回复 {show_line(expected)}：字节数、一个空格、十六进制 SHA-256、一个换行。"
            f"recv() 返回 b'' 之后发送这一行（第 4.5 节）。{hint_zh}")
    expect_reply_fields(server, reply.data, upload.data, what, what_zh, hint, hint_zh)


def right_numbers(line: bytes, data: bytes) -> bool:
    """The reply names the right byte count and SHA-256 (hex in any case, newline or not)."""
    fields = line.decode("utf-8", errors="replace").split()
    return len(fields) == 2 and fields[0] == str(len(data)) and \
        fields[1].lower() == hashlib.sha256(data).hexdigest()


def upload_cut_short(upload: Upload) -> Message:
    """Why the grader could not send the whole upload, as a clause."""
    sent, total = upload.bytes_sent(), len(upload.data)
    if upload.connection.ended == "reset":
        return Message(f"your server reset the connection after the grader had sent {sent} of "
                       f"{total} bytes",
                       f"评分程序发送了 {total} 个字节中的 {sent} 个之后，服务器重置了连接")
    if upload.connection.ended == "eof":
        return Message(f"your server closed the connection after the grader had sent {sent} of "
                       f"{total} bytes",
                       f"评分程序发送了 {total} 个字节中的 {sent} 个之后，服务器关闭了连接")
    return Message(f"your server stopped reading: the grader could not send more than {sent} "
                   f"of {total} bytes within {SEND_TIMEOUT:.0f} s",
                   f"服务器不再读取：{SEND_TIMEOUT:.0f} 秒内评分程序只发出了 {total} 个字节中的 "
                   f"{sent} 个")


def expect_reply_fields(server, line: bytes, data: bytes, what: str, what_zh: str,
                        hint: str, hint_zh: str) -> None:
    """A whole reply line came, and it is wrong: say which field is."""
    fields = line.decode("utf-8", errors="replace").split()
    count = int(fields[0]) if len(fields) == 2 and fields[0].isdigit() else None
    digest = fields[1].lower() if count is not None else ""
    right_digest = hashlib.sha256(data).hexdigest()
    shown, expected = show_line(line), show_line(upload_reply(data))
    if count is not None and count != len(data):
        fail_crash_first(
            server,
            f"the grader uploaded {what}; your server replied {shown}: it counted {count} bytes "
            f"instead of {len(data)}. It stopped before the end of the upload (or counted a "
            f"piece twice). TCP is a byte stream: one recv() returns whatever has arrived, so "
            f"add up every recv() until it returns b'' (lesson 4.5).{hint}",
            f"评分程序上传了{what_zh}；服务器回复 {shown}：统计到 {count} 个字节，而不是 "
            f"{len(data)} 个。它在上传结束之前就停下了（或者把某一块算了两次）。TCP 是字节流："
            f"一次 recv() 只返回当时已到达的数据，请把每次 recv() 的结果累加，直到返回 b''（第 4.5 节）。"
            f"{hint_zh}")
    if count is not None and digest != right_digest:
        fail_crash_first(
            server,
            f"the grader uploaded {what}; your server replied {shown}: the count is right but "
            f"the SHA-256 is not (expected {right_digest}). Feed every piece, in order, to one "
            f"hashlib.sha256() object with update(), and take hexdigest() after recv() returned "
            f"b'' (lesson 4.5).{hint}",
            f"评分程序上传了{what_zh}；服务器回复 {shown}：字节数对了，SHA-256 不对"
            f"（应为 {right_digest}）。请按顺序把每一块交给同一个 hashlib.sha256() 对象的 "
            f"update()，在 recv() 返回 b'' 之后再取 hexdigest()（第 4.5 节）。{hint_zh}")
    fail_crash_first(
        server,
        f"the grader uploaded {what}; your server replied {shown}, expected exactly {expected}: "
        f"the byte count, one space, the SHA-256 in lowercase hex, and a newline (lesson 4.5)."
        f"{hint}",
        f"评分程序上传了{what_zh}；服务器回复 {shown}，应当恰好是 {expected}：字节数、一个空格、"
        f"小写十六进制 SHA-256、一个换行（第 4.5 节）。{hint_zh}")


@pytest.mark.check(points=2, lesson="4.5", program="upload_server.py",
                   title="Server: counts and hashes 1 MiB sent in pieces with pauses",
                   title_zh="服务器：分段、有停顿地发送 1 MiB，字节数和哈希正确")
def test_server_counts_and_hashes_upload(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(MEBIBYTE, PIECE, PAUSE)
    upload.finish()
    pieces = len(MEBIBYTE) // PIECE
    expect_reply(upload, server,
                 f"1 MiB ({len(MEBIBYTE)} bytes) in {pieces} pieces of 64 KiB, "
                 f"{PAUSE * 1000:.0f} ms apart",
                 f" 1 MiB（{len(MEBIBYTE)} 个字节），分 {pieces} 块、每块 64 KiB、间隔 "
                 f"{PAUSE * 1000:.0f} 毫秒")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: replies only after the client half-closes",
                   title_zh="服务器：客户端半关闭之后才回复")
def test_server_replies_after_half_close(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(SOME_BYTES)
    early = upload.connection.read(EARLY_WINDOW)  # the upload is still open: nothing may come
    if early.data or early.ending != "timeout":
        what, trouble = replied_early(upload.connection, early), server_trouble(server)
        fail_crash_first(
            server,
            f"the grader sent {len(SOME_BYTES)} bytes and kept its sending side open (no FIN "
            f"yet); {what.en}.{trouble.en} Only recv() returning b'' (the client's FIN from "
            f"shutdown(SHUT_WR)) says the upload is complete; a short recv() or a pause means "
            f"nothing in a byte stream (lesson 4.5).",
            f"评分程序发送了 {len(SOME_BYTES)} 个字节，并保持发送方向打开（还没有 FIN）；"
            f"{what.zh}。{trouble.zh}只有 recv() 返回 b''（客户端 shutdown(SHUT_WR) 发出的 FIN）"
            f"才表示上传结束；在字节流里，一次较短的 recv() 或一段停顿都说明不了什么（第 4.5 节）。")
    upload.finish()
    expect_reply(upload, server,
                 f"{len(SOME_BYTES)} bytes, waited {EARLY_WINDOW:.0f} s (no reply came, "
                 f"rightly)",
                 f" {len(SOME_BYTES)} 个字节，等了 {EARLY_WINDOW:.0f} 秒（正确地没有收到回复）")


def replied_early(connection: peers.PeerConnection, early: peers.Reception) -> Message:
    """What the server did while the upload was still open: a reply (and when), or its end
    of the connection."""
    if not early.data:
        return ending(early.ending, EARLY_WINDOW,
                      Message("your server closed the connection", "服务器关闭了连接"))
    sent_at = first_event_at(connection, events.Sent) or 0.0
    came_at = first_event_at(connection, events.Received) or sent_at
    return Message(f"{came_at - sent_at:.2f} s later your server replied {show_line(early.data)} "
                   f"without waiting for the end of the upload",
                   f"{came_at - sent_at:.2f} 秒后服务器就回复了 {show_line(early.data)}，没有等上传结束")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: closes the connection after the reply (FIN)",
                   title_zh="服务器：回复后关闭连接（FIN）")
def test_server_closes_after_reply(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(SOME_BYTES)
    reply = upload.finish()
    closing = upload.connection.wait_closed(CLOSE_TIMEOUT)
    got = Message(f"read the reply {show_line(reply.data)}", f"读到了回复 {show_line(reply.data)}") \
        if reply.data else Message(f"got no reply line within {REPLY_TIMEOUT:.0f} s",
                                   f"{REPLY_TIMEOUT:.0f} 秒内没有收到回复行")
    if closing.ending == "reset":
        fail_crash_first(
            server,
            f"the grader uploaded {len(SOME_BYTES)} bytes, half-closed and {got.en}; then your "
            f"server reset the connection ({RESET_NOT_FIN.en}). A reset may throw away the "
            f"reply still in flight; close the client's socket normally with close(): its FIN "
            f"is the last wave of the four-way close (lesson 4.5). {RESET_CAUSES.en}",
            f"评分程序上传 {len(SOME_BYTES)} 个字节并半关闭，{got.zh}；随后服务器重置了连接"
            f"（{RESET_NOT_FIN.zh}）。重置可能丢掉仍在传输中的回复；请用 close() 正常关闭客户端"
            f"套接字：它发出的 FIN 是四次挥手的最后一步（第 4.5 节）。{RESET_CAUSES.zh}")
    if closing.ending != "eof":
        side = server_side(free_port, upload.connection.local_port)
        trouble = server_trouble(server)
        fail_crash_first(
            server,
            f"the grader uploaded {len(SOME_BYTES)} bytes, half-closed and {got.en}; then it "
            f"waited {CLOSE_TIMEOUT:.0f} s more and no FIN came.{side.en}{trouble.en} Close the "
            f"client's socket after sending the reply: that FIN ends the four-way close, and "
            f"it is how the client's recv() loop learns that the reply is complete "
            f"(lesson 4.5).",
            f"评分程序上传 {len(SOME_BYTES)} 个字节并半关闭，{got.zh}；之后又等了 "
            f"{CLOSE_TIMEOUT:.0f} 秒，没有收到 FIN。{side.zh}{trouble.zh}发送回复后请关闭客户端套接字："
            f"这个 FIN 完成四次挥手，客户端的 recv() 循环也靠它知道回复已经完整（第 4.5 节）。")


def server_side(port: int, client_port: int) -> Message:
    """The state of the server's end of one connection, as a sentence (CLOSE_WAIT explained)."""
    rows = kernel.connection_rows(port, client_port)
    if not rows:
        return NOTHING
    if rows[0].state == TcpState.CLOSE_WAIT:
        stuck = capitalized(in_close_wait(YOUR_SERVER, THE_GRADER))
        return Message(f" {stuck.en}.", f"{stuck.zh}。")
    return Message(f" Your server's end of the connection sat in {rows[0].state.name}.",
                   f"服务器一端的连接停留在 {rows[0].state.name}。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: answers an empty upload", title_zh="服务器：正确回复空上传")
def test_server_empty_upload(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's empty client")
    upload.send(b"")
    reply = upload.finish()  # connect, then half-close at once: the first recv() returns b''
    answered = reply.data.endswith(b"\n")  # a whole line came: the hint below is not needed
    expect_reply(upload, server, "nothing (an empty upload)",
                 "空内容（空上传）",
                 "" if answered else
                 f" An empty upload is a valid upload: 0 bytes, and the SHA-256 of no bytes "
                 f"({EMPTY_REPLY.split()[1].decode()}); create the hash object before the loop, "
                 f"so the very first recv() returning b'' still gets an answer.",
                 "" if answered else
                 f"空上传也是合法的上传：0 个字节，以及空内容的 SHA-256"
                 f"（{EMPTY_REPLY.split()[1].decode()}）；请在循环之前创建哈希对象，"
                 f"这样第一次 recv() 就返回 b'' 时也能回复。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: serves the next client", title_zh="服务器：接着服务下一个客户端")
def test_server_serves_next_client(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    first = upload_client(connect, free_port, "first client")
    first.send(FIRST_UPLOAD)
    first.finish()
    first.connection.wait_closed(CLOSE_TIMEOUT)
    first.connection.close()
    connection = connect(free_port, name="second client")
    if connection is None:
        trouble = server_trouble(server)
        fail_crash_first(
            server,
            f"after one full upload, the grader's second client could not connect to port "
            f"{free_port} (refused).{trouble.en} An upload server serves clients one after "
            f"another, forever: after closing one client's socket, go back to accept() (a loop "
            f"around accept()), and keep the listening socket open (lesson 4.5).",
            f"完成一次上传之后，评分程序的第二个客户端无法连接到端口 {free_port}（被拒绝）。"
            f"{trouble.zh}上传服务器应一个接一个地、一直为客户端服务：关闭一个客户端的套接字后回到 "
            f"accept()（在 accept() 外面套一个循环），并保持监听套接字打开（第 4.5 节）。")
    second = Upload(connection)
    second.send(SECOND_UPLOAD)
    second.finish()
    expect_reply(second, server,
                 f"{len(FIRST_UPLOAD)} bytes as a first client, then {len(SECOND_UPLOAD)} bytes "
                 f"as a second client (this reply is the second one's)",
                 f"两次：第一个客户端 {len(FIRST_UPLOAD)} 个字节，然后第二个客户端 "
                 f"{len(SECOND_UPLOAD)} 个字节（这里说的是第二个的回复）",
                 " An upload server serves clients one after another, forever.",
                 "上传服务器应一个接一个地、一直为客户端服务。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: stops cleanly on SIGINT and on SIGTERM",
                   title_zh="服务器：收到 SIGINT 和 SIGTERM 时干净地退出")
def test_server_stops_cleanly(run_program, connect, free_port):
    # Two runs on the same port: the grader half-closes first, so the TIME_WAIT of each
    # upload stays on the grader's side and the second run binds at once.
    for signum in (signal.SIGINT, signal.SIGTERM):
        name = signal.Signals(signum).name
        server = start_server(run_program, SERVER, free_port)
        upload = upload_client(connect, free_port, f"client before {name}")
        upload.send(SOME_BYTES)
        upload.finish()
        upload.connection.wait_closed(CLOSE_TIMEOUT)
        upload.connection.close()
        expect_clean_stop(server, SERVER, free_port, signum, " (sent after one upload)",
                          "（在一次上传之后发送）")


# -- added for issue #11: the layout of the reply, resets, the default port, SO_REUSEADDR -----

WORD = b"hello"


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: the reply line is exactly '<count> <lowercase hex>\\n'",
                   title_zh="服务器：回复行恰好是 '<字节数> <小写十六进制>\\n'")
def test_server_reply_format(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(WORD)
    reply = upload.finish()
    expected = upload_reply(WORD)
    if reply.data == expected or not right_numbers(reply.data, WORD):
        expect_reply(upload, server, f"{WORD!r}", f" {WORD!r}")
        return
    layout = []
    if not reply.data.endswith(b"\n"):
        layout.append(Message("it does not end with a newline \\n", "结尾没有换行符 \\n"))
    if reply.data.split()[1] != reply.data.split()[1].lower():
        layout.append(Message("the hex digits are uppercase (hexdigest() gives lowercase)",
                              "十六进制数字是大写的（hexdigest() 给出的是小写）"))
    wrong = layout or [Message("the spacing differs", "空格不对")]
    fail_crash_first(
        server,
        f"the grader uploaded {WORD!r}; your server replied {show_line(reply.data)}: the numbers "
        f"are right but {'; '.join(m.en for m in wrong)}. Send exactly {show_line(expected)}: "
        f"f\"{{count}} {{digest.hexdigest()}}\\n\" (lesson 4.5).",
        f"评分程序上传了 {WORD!r}；服务器回复 {show_line(reply.data)}：数字是对的，但"
        f"{'；'.join(m.zh for m in wrong)}。请恰好发送 {show_line(expected)}："
        f"f\"{{count}} {{digest.hexdigest()}}\\n\"（第 4.5 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="upload_server.py",
                   title="Server: clients that reset (before, during, after) do not stop it",
                   title_zh="服务器：重置连接的客户端（上传前、上传中、上传后）不会让它停下")
def test_server_survives_reset(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    for name, data, half_close in (("client that resets at once", b"", False),
                                   ("client that resets mid-upload", SOME_BYTES, False),
                                   ("client that resets after its FIN", WORD, True)):
        client = upload_client(connect, free_port, name)
        client.send(data)
        if half_close:
            client.connection.shutdown_write()
        client.connection.reset()
    upload = upload_client(connect, free_port, "client after the resets")
    upload.send(WORD)
    upload.finish()
    if right_numbers(upload.reply.data if upload.reply else b"", WORD):
        return
    trouble = server_trouble(server)
    fail_crash_first(
        server,
        f"three clients reset the connection (RST): one at once, one in the middle of its "
        f"upload, one after its FIN before reading the reply; then the grader uploaded {WORD!r} "
        f"and got no right reply within {REPLY_TIMEOUT:.0f} s.{trouble.en} recv() and "
        f"sendall() raise ConnectionResetError (or BrokenPipeError) when a client resets: "
        f"catch them (OSError) around one client's session, close its socket and go back to "
        f"accept() (lesson 4.4).",
        f"三个客户端重置了连接（RST）：一个刚连上就重置，一个在上传中途重置，一个发出 FIN 后不读回复就"
        f"重置；之后评分程序上传 {WORD!r}，{REPLY_TIMEOUT:.0f} 秒内没有得到正确的回复。{trouble.zh}"
        f"客户端重置连接时 recv() 和 sendall() 会抛出 ConnectionResetError（或 BrokenPipeError）："
        f"请在一个客户端的会话外捕获它们（OSError），关闭它的套接字，然后回到 accept()（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="upload_server.py",
                   title="Server: without an argument, listens on port 7788",
                   title_zh="服务器：不给参数时在 7788 端口监听")
def test_server_default_port(default_port_network, run_program):
    start_on_default_port(run_program, SERVER, default_port_network)


@pytest.mark.check(points=1, lesson="4.4 note 3", program="upload_server.py",
                   title="Server: restarts at once on a port left in TIME_WAIT",
                   title_zh="服务器：端口上还有 TIME_WAIT 时也能立即重新启动")
def test_server_restarts_after_time_wait(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(WORD)  # no FIN: the upload is still open when the server stops
    wait_until(lambda: [row for row in connected_sockets(server) if row.rx_queue == 0], 2.0)
    if not server.stop(signal.SIGINT):
        server.kill_tree()
    # The server's end closed first (its FIN), so once the grader closes too, the TIME_WAIT
    # of this connection is on the server's port.
    upload.connection.wait_closed(CLOSE_TIMEOUT)
    upload.connection.close()
    expect_restart_listens(run_program, SERVER, free_port)
