"""Checks of 06-half-close (lesson 4.5, the four-way close): an upload ends with the
client's half-close, shutdown(SHUT_WR), and the reply travels the other way afterwards.

For upload_client.py the grader is the server; for upload_server.py the grader is every
client. Every check runs the program afresh and judges one contract point."""

from __future__ import annotations

import hashlib
import random
import signal
import time

import pytest

from grader import events, kernel, peers
from grader.events import preview
from grader.kernel import TcpState
from grader.steps import connect_or_fail, expect_clean_stop, squash, start_server
from grader.verdict import expect, fail
from grader.waiting import Deadline, wait_until

CLIENT = "upload_client.py"
SERVER = "upload_server.py"

UPLOAD_NAME = "grader_upload.bin"  # written into the scratch copy, given as a bare name
FILE_DATA = random.Random(6).randbytes(200 * 1024)  # every byte value, NUL and \r\n included
MEBIBYTE = random.Random(16).randbytes(1024 * 1024)
SOME_BYTES = random.Random(26).randbytes(3000)
FIRST_UPLOAD = random.Random(36).randbytes(100 * 1024)
SECOND_UPLOAD = random.Random(46).randbytes(50 * 1024)
PIECE = 64 * 1024
PAUSE = 0.05
LATE = 0.5  # the reply comes this long after the client's FIN
EMPTY_REPLY = b"0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"

ACCEPT_TIMEOUT = 10.0   # the client starts and answers three questions
UPLOAD_TIMEOUT = 10.0   # 200 KiB on loopback
EOF_TIMEOUT = 3.0       # after the whole file: the client's FIN
PRINT_TIMEOUT = 3.0     # after the grader's FIN: the reply on the client's screen
EXIT_TIMEOUT = 5.0
REPLY_TIMEOUT = 5.0     # after the grader's FIN: the server's reply line
EARLY_WINDOW = 1.0      # the server must stay silent this long while the upload is open
CLOSE_TIMEOUT = 2.0     # after the reply: the server's FIN


def reply_for(data: bytes) -> bytes:
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode("ascii")


def bytes_sent(connection: peers.PeerConnection) -> int:
    return sum(len(event.data) for event in connection.log.of_type(events.Sent))


def first_event_at(connection: peers.PeerConnection, event_type: type) -> float | None:
    found = connection.log.of_type(event_type)
    return found[0].at if found else None


def show(line: bytes) -> str:
    """A reply line in full (it is short), escaped; a long one shortened."""
    return preview(line) if len(line) > 120 else repr(line.decode("utf-8", errors="backslashreplace"))


def common_prefix(a: bytes, b: bytes) -> int:
    return next((index for index, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


# -- the client: the grader is its server --------------------------------------------------

class ClientRun:
    """One run of upload_client.py against the grader's server: the bytes that arrived, how
    the client's sending side ended, and what became of the reply sent after that end."""

    def __init__(self, run_program, peer_server, submission) -> None:
        upload = submission.folder / UPLOAD_NAME
        upload.write_bytes(FILE_DATA)
        upload.chmod(0o644)  # the student's uid (docker runner) must read it
        self.server = peer_server("connection from your client")
        self.program = run_program(CLIENT, answers=["127.0.0.1", str(self.server.port),
                                                    UPLOAD_NAME])
        self.connection = self.server.accept(ACCEPT_TIMEOUT)
        self.received = b""
        self.ending = ""  # how the upload ended: "eof", "reset" or "timeout"
        self.side_at_eof = ("", "")  # the client's socket when its FIN arrived, en / zh
        self.state_without_fin = ""  # its state when the grader gave up waiting for the FIN
        self.reply = b""
        self.replied_at: float | None = None  # monotonic time the reply was sent
        self.reset_after_reply = False
        self.printed = False

    def expect_connected(self) -> None:
        if self.connection is not None:
            return
        if self.program.unanswered_question:
            fail("your client asked more than three questions (server IP, server port, file "
                 "path) and never connected. Ask exactly those, in that order.",
                 "客户端提了三个以上的问题（服务器 IP、端口、文件路径），并且没有连接。"
                 "请按顺序只询问这三项。")
        ended = "" if self.program.running() else f" (it ended: {self.program.exit_description()})"
        ended_zh = "" if self.program.running() else f"（它已结束：{self.program.exit_description()}）"
        fail(f"your client did not connect to 127.0.0.1 port {self.server.port} within "
             f"{ACCEPT_TIMEOUT:.0f} s after it was given that address and the file "
             f"{UPLOAD_NAME!r}{ended}. Connect to the IP and port the user typed (lesson 4.2).",
             f"给出地址和文件 {UPLOAD_NAME!r} 后 {ACCEPT_TIMEOUT:.0f} 秒内，客户端没有连接到 "
             f"127.0.0.1 的 {self.server.port} 端口{ended_zh}。请连接用户输入的 IP 和端口（第 4.2 节）。")

    def run(self, delay: float = 0.0) -> "ClientRun":
        """Take the upload until the client's FIN, reply ``delay`` seconds later, close."""
        self.expect_connected()
        connection = self.connection
        first = connection.read(UPLOAD_TIMEOUT,
                                until=lambda buffer: len(buffer) >= len(FILE_DATA))
        rest = connection.read(EOF_TIMEOUT)  # the client's FIN (or more bytes than the file)
        self.received = first.data + rest.data
        self.ending = rest.ending
        if self.ending == "eof":
            pause = Deadline(delay)
            self.side_at_eof = self._client_side()
            if delay:
                # The pause is what is tested (a reply that comes late); watch the client
                # meanwhile, so that an exit during the pause is seen when it happens.
                self.program.wait_exit(pause.left())
                time.sleep(pause.left())
        if self.ending == "timeout":
            rows = kernel.connection_rows(connection.remote_port, connection.local_port)
            self.state_without_fin = rows[0].state.name if rows else ""
        if self.ending in ("eof", "timeout"):
            # Without the client's FIN a real server would never reply; the grader replies
            # anyway, so that the checks of the end (exit status) judge only the end.
            self.program.running()  # notice an exit that came before the reply
            self.reply = reply_for(self.received)
            self.replied_at = time.monotonic()
            connection.send(self.reply)
        connection.shutdown_write()  # the server's FIN: the reply is complete
        if self.reply:
            self.printed = self._wait_printed()
            self.reset_after_reply = peers.reset_seen(connection)
        connection.close()
        return self

    def _wait_printed(self) -> bool:
        wanted = squash(self.reply.decode("ascii"))

        def seen() -> bool:
            return wanted in squash(self.program.printed)

        wait_until(lambda: seen() or peers.reset_seen(self.connection)
                   or not self.program.running(), PRINT_TIMEOUT)
        if not seen():  # the last output of a program that just ended may still be on its way
            wait_until(seen, 0.5)
        return seen()

    def _client_side(self) -> tuple[str, str]:
        """What the kernel shows of the client's end of the connection, in words."""
        def rows() -> list[kernel.SocketRow]:
            return kernel.connection_rows(self.connection.remote_port, self.connection.local_port)

        # FIN_WAIT1 until the grader's (delayed) ACK of the FIN, FIN_WAIT2 after it: both
        # mean the same here, the client sent its FIN; what matters is who still holds it.
        found = rows()
        eof = first_event_at(self.connection, events.EndOfStream) or 0.0
        when = f"{self.connection.log.now() - eof:.2f} s after the FIN"
        when_zh = f"FIN 之后 {self.connection.log.now() - eof:.2f} 秒"
        ended = "" if self.program.running() else \
            f"; your client had already ended ({self.program.exit_description()})"
        ended_zh = "" if self.program.running() else \
            f"；客户端已经结束了（{self.program.exit_description()}）"
        if not found:
            return (f"{when}, no socket of your client was left on this "
                    f"connection{ended}",
                    f"{when_zh}，这个连接上已经没有客户端的套接字了{ended_zh}")
        row = found[0]
        held = row.inode != 0 and row.inode in kernel.socket_inodes(self.program.members())
        if held:
            return (f"{when}, your client's socket was in {row.state.name} and "
                    f"still open in your program (a half-close: it could still receive){ended}",
                    f"{when_zh}，客户端的套接字处于 {row.state.name}，并且仍在程序中打开"
                    f"（半关闭：还能接收）{ended_zh}")
        return (f"{when}, your client's socket was in {row.state.name} but no "
                f"longer open in any process: your program had already closed it{ended}",
                f"{when_zh}，客户端的套接字处于 {row.state.name}，但已经不属于任何进程："
                f"程序已经把它关闭了{ended_zh}")

    def ended_before_reply(self) -> bool:
        ended = self.program.ended_at
        return ended is not None and self.replied_at is not None and ended < self.replied_at

    def seconds_after_fin(self, moment: float | None) -> float:
        eof = first_event_at(self.connection, events.EndOfStream)
        if moment is None or eof is None:
            return 0.0
        return moment - self.connection.log.start - eof


def expect_end_of_stream(run: ClientRun) -> None:
    """The client must end its upload with a FIN (the checks of the reply depend on it)."""
    count = len(run.received)
    if run.ending == "reset":
        fail(f"after {count} bytes your client reset the connection (the grader saw RST, not "
             f"FIN), so the upload ended without a proper end of stream and no reply could "
             f"reach it. Send the file, then shutdown(socket.SHUT_WR): that sends a FIN and "
             f"keeps the receiving side open (lesson 4.5, the four-way close). An RST comes "
             f"from closing with unread data or with SO_LINGER set to 0.",
             f"收到 {count} 个字节后客户端重置了连接（评分程序看到的是 RST 而不是 FIN），"
             f"上传没有正常结束，回复也无法送达。请先发送文件，再调用 shutdown(socket.SHUT_WR)："
             f"它发出 FIN，同时保留接收方向（第 4.5 节，四次挥手）。带着未读数据关闭或把 "
             f"SO_LINGER 设为 0 会产生 RST。")
    if run.ending != "eof":
        known = run.state_without_fin
        state = f" (its socket was in {known})" if known else ""
        state_zh = f"（它的套接字处于 {known}）" if known else ""
        fail(f"your client sent {count} bytes, then nothing more and no FIN for "
             f"{EOF_TIMEOUT:.0f} s{state}: it never ended its upload. The server replies only "
             f"after the end of stream (its recv() returns b''), so a client that waits for "
             f"the reply without shutdown(socket.SHUT_WR) waits forever. Half-close after "
             f"sending the file (lesson 4.5, the four-way close).",
             f"客户端发送了 {count} 个字节之后，{EOF_TIMEOUT:.0f} 秒内既没有更多数据也没有 FIN"
             f"{state_zh}：上传一直没有结束。服务器要等到数据流结束（recv() 返回 b''）才回复，"
             f"所以不调用 shutdown(socket.SHUT_WR) 就等回复的客户端会永远等下去。"
             f"请在发完文件后半关闭（第 4.5 节，四次挥手）。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: every byte of a 200 KiB binary file arrives",
                   title_zh="客户端：200 KiB 二进制文件的每个字节都送达")
def test_client_sends_every_byte(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    got, want = run.received, FILE_DATA
    if got == want:
        return
    then = {"eof": "then its FIN", "reset": "then RST",
            "timeout": f"then nothing more for {EOF_TIMEOUT:.0f} s"}[run.ending]
    then_zh = {"eof": "然后是它的 FIN", "reset": "然后是 RST",
               "timeout": f"之后 {EOF_TIMEOUT:.0f} 秒内没有更多数据"}[run.ending]
    same = common_prefix(got, want)
    if len(got) < len(want) and same == len(got):
        what = f"only the first {len(got)} bytes of the file arrived, {then}"
        what_zh = f"只收到了文件的前 {len(got)} 个字节，{then_zh}"
    elif got.startswith(want):
        extra = got[len(want):]
        what = (f"the whole file arrived, followed by {len(extra)} more bytes "
                f"{preview(extra)}: send the file's bytes and nothing else")
        what_zh = (f"整个文件都收到了，但后面还多了 {len(extra)} 个字节 {preview(extra)}："
                   f"只发送文件本身的字节")
    else:
        what = (f"{len(got)} bytes arrived, {then}, and they differ from the file from byte "
                f"{same} on (the file has {want[same:same + 8].hex(' ')} there, the grader got "
                f"{got[same:same + 8].hex(' ')})")
        what_zh = (f"收到 {len(got)} 个字节，{then_zh}，并且从第 {same} 个字节起与文件不同"
                   f"（文件中是 {want[same:same + 8].hex(' ')}，收到的是 {got[same:same + 8].hex(' ')}）")
    fail(f"the file {UPLOAD_NAME!r} holds {len(want)} bytes of binary data; {what}. Open it "
         f"in binary mode ('rb'), read it to the end (a loop, since one read() or send() of a "
         f"fixed size is not the whole file) and send every piece with sendall(). TCP is a "
         f"byte stream: the server counts exactly the bytes you send (lesson 4.5).",
         f"文件 {UPLOAD_NAME!r} 有 {len(want)} 个字节的二进制数据；{what_zh}。请用二进制方式（'rb'）"
         f"打开，循环读到文件末尾（固定大小的一次 read() 或 send() 不是整个文件），每一块都用 "
         f"sendall() 发送。TCP 是字节流：服务器统计的正是你发送的字节（第 4.5 节）。")


@pytest.mark.check(points=2, lesson="4.5", program="upload_client.py",
                   title="Client: half-closes with shutdown(SHUT_WR) and still receives",
                   title_zh="客户端：用 shutdown(SHUT_WR) 半关闭后仍能接收")
def test_client_half_closes(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    expect_end_of_stream(run)
    side, side_zh = run.side_at_eof
    if run.reset_after_reply:
        fail(f"the grader saw your client's FIN after {len(run.received)} bytes and sent the "
             f"reply {show(run.reply)} at once; your client's end answered with RST: its "
             f"socket was closed, so the reply was thrown away. {side}. "
             f"close() ends both directions; shutdown(socket.SHUT_WR) sends the FIN but keeps "
             f"the receiving side open (FIN_WAIT2), so the reply can still be read (lesson 4.5, "
             f"the four-way close).",
             f"评分程序在 {len(run.received)} 个字节之后看到了客户端的 FIN，并立即发送回复 "
             f"{show(run.reply)}；客户端一端用 RST 作答：它的套接字已经关闭，回复被丢弃了。"
             f"{side_zh}。close() 同时关闭两个方向；shutdown(socket.SHUT_WR) 发出 "
             f"FIN 但保留接收方向（FIN_WAIT2），所以还能读到回复（第 4.5 节，四次挥手）。")
    if not run.printed:
        program = run.program
        if run.ended_before_reply():
            fail(f"the grader saw your client's FIN and sent the reply {show(run.reply)} at "
                 f"once, but your client had already ended ({program.exit_description()}), so "
                 f"it never received it. {side}. After shutdown(SHUT_WR) "
                 f"keep reading with recv() until it returns b'' (the server closed), then "
                 f"print the reply (lesson 4.5).",
                 f"评分程序看到客户端的 FIN 后立即发送了回复 {show(run.reply)}，但客户端已经结束"
                 f"（{program.exit_description()}），没有收到回复。{side_zh}。"
                 f"shutdown(SHUT_WR) 之后要继续 recv()，直到返回 b''（服务器已关闭），再打印回复"
                 f"（第 4.5 节）。")
        fail(f"the grader saw your client's FIN, sent the reply {show(run.reply)} at once "
             f"and closed; your client did not print the reply within {PRINT_TIMEOUT:.0f} s "
             f"({program.exit_description()}). {side}. After "
             f"shutdown(SHUT_WR), read with recv() until it returns b'', then print what came "
             f"(lesson 4.5).",
             f"评分程序看到客户端的 FIN 后立即发送回复 {show(run.reply)} 并关闭；客户端在 "
             f"{PRINT_TIMEOUT:.0f} 秒内没有打印这个回复（{program.exit_description()}）。"
             f"{side_zh}。shutdown(SHUT_WR) 之后要 recv() 直到返回 b''，再打印收到的内容（第 4.5 节）。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: prints a reply that comes 0.5 s after its FIN",
                   title_zh="客户端：打印在它的 FIN 之后 0.5 秒才到达的回复")
def test_client_prints_late_reply(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run(delay=LATE)
    expect_end_of_stream(run)
    if run.printed:
        return
    program = run.program
    if run.ended_before_reply() or run.reset_after_reply:
        rst = " (the reply was answered with RST)" if run.reset_after_reply else ""
        rst_zh = "（回复换来的是 RST）" if run.reset_after_reply else ""
        if run.ended_before_reply():
            when = (f"your client ended ({program.exit_description()}) "
                    f"{run.seconds_after_fin(program.ended_at):.1f} s after its FIN, before the "
                    f"reply came{rst}")
            when_zh = (f"客户端在它的 FIN 之后 {run.seconds_after_fin(program.ended_at):.1f} 秒就结束了"
                       f"（{program.exit_description()}），回复还没到{rst_zh}")
        else:
            when = ("when the reply came your client's socket was already closed: it was "
                    "answered with RST")
            when_zh = "回复到达时客户端的套接字已经关闭：回复换来的是 RST"
        fail(f"the grader sent the reply {show(run.reply)} {LATE} s after your client's FIN; "
             f"{when}. A server may take its time: after "
             f"shutdown(SHUT_WR) the client sits in FIN_WAIT2 and must keep reading until "
             f"recv() returns b'' (the server's FIN), with no timeout and not just one recv() "
             f"(lesson 4.5, the four-way close).",
             f"评分程序在客户端的 FIN 之后 {LATE} 秒发送回复 {show(run.reply)}；{when_zh}。"
             f"服务器可能需要一些时间：shutdown(SHUT_WR) 之后客户端处于 FIN_WAIT2，"
             f"必须一直读到 recv() 返回 b''（服务器的 FIN），不要设超时，也不能只 recv() 一次"
             f"（第 4.5 节，四次挥手）。")
    fail(f"the grader sent the reply {show(run.reply)} {LATE} s after your client's FIN, then "
         f"closed; your client did not print it within {PRINT_TIMEOUT:.0f} s "
         f"({program.exit_description()}). Keep reading until recv() returns b'', then print "
         f"everything that came (lesson 4.5).",
         f"评分程序在客户端的 FIN 之后 {LATE} 秒发送回复 {show(run.reply)}，然后关闭；客户端在 "
         f"{PRINT_TIMEOUT:.0f} 秒内没有打印它（{program.exit_description()}）。请一直读到 recv() "
         f"返回 b''，再打印收到的全部内容（第 4.5 节）。")


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: exits 0 after the server closes",
                   title_zh="客户端：服务器关闭后以 0 退出")
def test_client_exits_zero(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    program = run.program
    program.wait_exit(EXIT_TIMEOUT)
    if run.ending == "eof":
        before, before_zh = (f"the grader sent the reply {show(run.reply)} and closed",
                             f"评分程序发送回复 {show(run.reply)} 并关闭之后")
    elif run.ending == "timeout":
        before, before_zh = (f"the grader saw no FIN from your client (see the half-close "
                             f"check), sent the reply {show(run.reply)} anyway and closed",
                             f"评分程序没有看到客户端的 FIN（见半关闭那一项），仍然发送了回复 "
                             f"{show(run.reply)} 并关闭之后")
    else:
        before, before_zh = ("your client reset the connection (see the half-close check)",
                             "客户端重置了连接之后（见半关闭那一项）")
    if program.running():
        rows = kernel.connection_rows(run.connection.remote_port, run.connection.local_port)
        stuck = [row for row in rows if row.state == TcpState.CLOSE_WAIT]
        state = (f" Its socket sat in CLOSE_WAIT: the server's FIN had arrived and it never "
                 f"noticed that recv() returned b''." if stuck else "")
        state_zh = ("它的套接字停留在 CLOSE_WAIT：服务器的 FIN 已经到达，它却没有处理 recv() 返回的 b''。"
                    if stuck else "")
        waiting = " It was waiting for more keyboard input." if program.unanswered_question else ""
        waiting_zh = "它在等待更多键盘输入。" if program.unanswered_question else ""
        fail(f"{before}; {EXIT_TIMEOUT:.0f} s later your client was still running.{state}"
             f"{waiting} Once recv() returns b'' the exchange is over: print the reply, close "
             f"the socket and exit (lesson 4.5).",
             f"{before_zh}，过了 {EXIT_TIMEOUT:.0f} 秒客户端仍在运行。{state_zh}{waiting_zh}"
             f"recv() 返回 b'' 就说明交换结束了：打印回复，关闭套接字，然后退出（第 4.5 节）。")
    expect(program.exit_status == 0 and not program.has_traceback(),
           f"{before}; your client ended with {program.exit_description()}"
           f"{' and a traceback' if program.has_traceback() else ''}. After a successful upload "
           f"it should exit with status 0 (a non-zero status tells scripts that it failed).",
           f"{before_zh}，客户端的结束方式是 {program.exit_description()}"
           f"{'，并打印了异常回溯' if program.has_traceback() else ''}。上传成功后应以状态 0 退出"
           f"（非 0 状态表示失败）。")


# -- the server: the grader is every client -----------------------------------------------

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


def upload_client(connect, port: int, name: str) -> Upload:
    return Upload(connect_or_fail(connect, port, name))


def server_status(server) -> tuple[str, str]:
    """How the server was doing, for feedback (a crash takes a moment to show)."""
    wait_until(lambda: server.has_traceback() or not server.running(), 0.3)
    if server.running() and not server.has_traceback():
        return ("", "")
    if server.running():
        return (" Your server printed a traceback (see its output below).",
                "服务器打印了异常回溯（见下面的输出）。")
    trace = " with a traceback" if server.has_traceback() else ""
    trace_zh = "，并打印了异常回溯" if server.has_traceback() else ""
    return (f" Your server had ended ({server.exit_description()}{trace}).",
            f"服务器已经结束了（{server.exit_description()}{trace_zh}）。")


def expect_reply(upload: Upload, server, what: str, what_zh: str,
                 hint: str = "", hint_zh: str = "") -> None:
    """The reply must be exactly ``<byte count> <sha256 hex>\\n`` of what was sent."""
    data, reply = upload.data, upload.reply
    expected = reply_for(data)
    if reply is not None and reply.data == expected:
        return
    status, status_zh = server_status(server)
    connection = upload.connection
    if not upload.sent_all:
        sent = bytes_sent(connection)
        if connection.ended == "reset":
            cause = (f"your server reset the connection after the grader had sent {sent} of "
                     f"{len(data)} bytes")
            cause_zh = f"评分程序发送了 {len(data)} 个字节中的 {sent} 个之后，服务器重置了连接"
        elif connection.ended == "eof":
            cause = (f"your server closed the connection after the grader had sent {sent} of "
                     f"{len(data)} bytes")
            cause_zh = f"评分程序发送了 {len(data)} 个字节中的 {sent} 个之后，服务器关闭了连接"
        else:
            cause = (f"your server stopped reading: the grader could not send more than {sent} "
                     f"of {len(data)} bytes within 5 s")
            cause_zh = f"服务器不再读取：5 秒内评分程序只发出了 {len(data)} 个字节中的 {sent} 个"
        fail(f"the grader uploaded {what}; {cause}.{status} The upload is complete only when "
             f"recv() returns b'' (the client's FIN): read in a loop until then. Closing a "
             f"socket with unread data resets the connection (lesson 4.5).{hint}",
             f"评分程序上传了{what_zh}；{cause_zh}。{status_zh}只有 recv() 返回 b''（客户端的 FIN）"
             f"才表示上传结束：请循环读取直到那时。带着未读数据关闭套接字会重置连接（第 4.5 节）。{hint_zh}")
    line = reply.data if reply is not None else b""
    if not line.endswith(b"\n"):
        ending = reply.ending if reply is not None else "timeout"
        got = f" after {show(line)}" if line else ""
        got_zh = f"（之前收到 {show(line)}）" if line else ""
        after = {"eof": f"your server closed the connection{got} without a complete reply line",
                 "reset": f"your server reset the connection{got}",
                 }.get(ending, f"no complete reply line came within {REPLY_TIMEOUT:.0f} s{got}")
        after_zh = {"eof": f"服务器没有发出完整的回复行就关闭了连接{got_zh}",
                    "reset": f"服务器重置了连接{got_zh}",
                    }.get(ending, f"{REPLY_TIMEOUT:.0f} 秒内没有收到完整的回复行{got_zh}")
        if line and line + b"\n" == expected:
            after += " (the line was right but had no \\n at its end)"
            after_zh += "（这一行的内容是对的，但末尾缺少 \\n）"
        fail(f"the grader uploaded {what}, then half-closed (shutdown(SHUT_WR)); {after}. "
             f"Expected exactly {show(expected)}: the byte count, a space, the SHA-256 in "
             f"hex, and a newline.{status} Reply once recv() has returned b'' (lesson 4.5).{hint}",
             f"评分程序上传了{what_zh}，然后半关闭（shutdown(SHUT_WR)）；{after_zh}。应当恰好回复 "
             f"{show(expected)}：字节数、一个空格、十六进制 SHA-256、一个换行。{status_zh}"
             f"recv() 返回 b'' 之后再回复（第 4.5 节）。{hint_zh}")
    fields = line.decode("utf-8", errors="replace").split()
    count = int(fields[0]) if len(fields) == 2 and fields[0].isdigit() else None
    digest = fields[1].lower() if count is not None else ""
    if count is not None and count != len(data):
        fail(f"the grader uploaded {what}; your server replied {show(line)}: it counted "
             f"{count} bytes instead of {len(data)}. It stopped before the end of the upload "
             f"(or counted a piece twice). TCP is a byte stream: one recv() returns whatever "
             f"has arrived, so add up every recv() until it returns b'' (lesson 4.5).{hint}",
             f"评分程序上传了{what_zh}；服务器回复 {show(line)}：统计到 {count} 个字节，而不是 "
             f"{len(data)} 个。它在上传结束之前就停下了（或者把某一块算了两次）。TCP 是字节流："
             f"一次 recv() 只返回当时已到达的数据，请把每次 recv() 的结果累加，直到返回 b''（第 4.5 节）。"
             f"{hint_zh}")
    if count is not None and digest != hashlib.sha256(data).hexdigest():
        fail(f"the grader uploaded {what}; your server replied {show(line)}: the count is "
             f"right but the SHA-256 is not (expected {hashlib.sha256(data).hexdigest()}). "
             f"Feed every piece, in order, to one hashlib.sha256() object with update(), and "
             f"take hexdigest() after recv() returned b'' (lesson 4.5).{hint}",
             f"评分程序上传了{what_zh}；服务器回复 {show(line)}：字节数对了，SHA-256 不对"
             f"（应为 {hashlib.sha256(data).hexdigest()}）。请按顺序把每一块交给同一个 "
             f"hashlib.sha256() 对象的 update()，在 recv() 返回 b'' 之后再取 hexdigest()（第 4.5 节）。"
             f"{hint_zh}")
    fail(f"the grader uploaded {what}; your server replied {show(line)}, expected exactly "
         f"{show(expected)}: the byte count, one space, the SHA-256 in lowercase hex, and "
         f"a newline (lesson 4.5).{hint}",
         f"评分程序上传了{what_zh}；服务器回复 {show(line)}，应当恰好是 {show(expected)}："
         f"字节数、一个空格、小写十六进制 SHA-256、一个换行（第 4.5 节）。{hint_zh}")


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
        sent_at = first_event_at(upload.connection, events.Sent) or 0.0
        came_at = first_event_at(upload.connection, events.Received)
        if early.data:
            what = (f"{came_at - sent_at:.2f} s later your server replied {show(early.data)} "
                    f"without waiting for the end of the upload")
            what_zh = (f"{came_at - sent_at:.2f} 秒后服务器就回复了 {show(early.data)}，"
                       f"没有等上传结束")
        elif early.ending == "eof":
            what, what_zh = "your server closed the connection", "服务器关闭了连接"
        else:
            what, what_zh = "your server reset the connection", "服务器重置了连接"
        status, status_zh = server_status(server)
        fail(f"the grader sent {len(SOME_BYTES)} bytes and kept its sending side open (no FIN "
             f"yet); {what}.{status} Only recv() returning b'' (the client's FIN from "
             f"shutdown(SHUT_WR)) says the upload is complete; a short recv() or a pause means "
             f"nothing in a byte stream (lesson 4.5).",
             f"评分程序发送了 {len(SOME_BYTES)} 个字节，并保持发送方向打开（还没有 FIN）；"
             f"{what_zh}。{status_zh}只有 recv() 返回 b''（客户端 shutdown(SHUT_WR) 发出的 FIN）"
             f"才表示上传结束；在字节流里，一次较短的 recv() 或一段停顿都说明不了什么（第 4.5 节）。")
    upload.finish()
    expect_reply(upload, server,
                 f"{len(SOME_BYTES)} bytes, waited {EARLY_WINDOW:.0f} s (no reply came, "
                 f"rightly)",
                 f" {len(SOME_BYTES)} 个字节，等了 {EARLY_WINDOW:.0f} 秒（正确地没有收到回复）")


@pytest.mark.check(points=1, lesson="4.5", program="upload_server.py",
                   title="Server: closes the connection after the reply (FIN)",
                   title_zh="服务器：回复后关闭连接（FIN）")
def test_server_closes_after_reply(run_program, connect, free_port):
    server = start_server(run_program, SERVER, free_port)
    upload = upload_client(connect, free_port, "grader's client")
    upload.send(SOME_BYTES)
    reply = upload.finish()
    closing = upload.connection.wait_closed(CLOSE_TIMEOUT)
    got = f"read the reply {show(reply.data)}" if reply.data else \
        f"got no reply line within {REPLY_TIMEOUT:.0f} s"
    got_zh = f"读到了回复 {show(reply.data)}" if reply.data else \
        f"{REPLY_TIMEOUT:.0f} 秒内没有收到回复行"
    if closing.ending == "reset":
        fail(f"the grader uploaded {len(SOME_BYTES)} bytes, half-closed and {got}; then your "
             f"server reset the connection (RST, not FIN). A reset may throw away the reply "
             f"still in flight; close the client's socket normally with close(): its FIN is the "
             f"last wave of the four-way close (lesson 4.5). A reset comes from closing with "
             f"unread data or with SO_LINGER set to 0.",
             f"评分程序上传 {len(SOME_BYTES)} 个字节并半关闭，{got_zh}；随后服务器重置了连接"
             f"（RST，不是 FIN）。重置可能丢掉仍在传输中的回复；请用 close() 正常关闭客户端套接字："
             f"它发出的 FIN 是四次挥手的最后一步（第 4.5 节）。带着未读数据关闭或把 SO_LINGER "
             f"设为 0 会产生重置。")
    if closing.ending != "eof":
        rows = kernel.connection_rows(free_port, upload.connection.local_port)
        state = (f" Your server's end of the connection sat in {rows[0].state.name}"
                 f"{': the grader’s FIN had arrived and the server never closed its side' if rows[0].state == TcpState.CLOSE_WAIT else ''}."
                 if rows else "")
        state_zh = (f"服务器一端的连接停留在 {rows[0].state.name}"
                    f"{'：评分程序的 FIN 已经到达，服务器却一直没有关闭自己一端' if rows[0].state == TcpState.CLOSE_WAIT else ''}。"
                    if rows else "")
        status, status_zh = server_status(server)
        fail(f"the grader uploaded {len(SOME_BYTES)} bytes, half-closed and {got}; then it "
             f"waited {CLOSE_TIMEOUT:.0f} s more and no FIN came.{state}{status} Close the "
             f"client's socket after sending the reply: that FIN ends the four-way close, and "
             f"it is how the client's recv() loop learns that the reply is complete "
             f"(lesson 4.5).",
             f"评分程序上传 {len(SOME_BYTES)} 个字节并半关闭，{got_zh}；之后又等了 "
             f"{CLOSE_TIMEOUT:.0f} 秒，没有收到 FIN。{state_zh}{status_zh}发送回复后请关闭客户端套接字："
             f"这个 FIN 完成四次挥手，客户端的 recv() 循环也靠它知道回复已经完整（第 4.5 节）。")


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
        status, status_zh = server_status(server)
        fail(f"after one full upload, the grader's second client could not connect to port "
             f"{free_port} (refused).{status} An upload server serves clients one after another, "
             f"forever: after closing one client's socket, go back to accept() (a loop around "
             f"accept()), and keep the listening socket open (lesson 4.5).",
             f"完成一次上传之后，评分程序的第二个客户端无法连接到端口 {free_port}（被拒绝）。"
             f"{status_zh}上传服务器应一个接一个地、一直为客户端服务：关闭一个客户端的套接字后回到 "
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
        server.wait_exit(0.3)  # give a server that ends by itself the time to show it
        expect_clean_stop(server, SERVER, free_port, signum, " (sent after one upload)",
                          "（在一次上传之后发送）")
