"""Checks of 06-half-close (lesson 4.5, the four-way close), upload_client.py: the grader is
its server. The client uploads a file and ends the upload with its half-close,
shutdown(SHUT_WR); the reply travels the other way afterwards. Every check runs the client
afresh and judges one contract point. (The checks of upload_server.py are in
test_upload_server.py.)"""

from __future__ import annotations

import random
import time

import pytest

from grader.language import Message
from grader.session import events, kernel, peers
from grader.session.feedback import (NOTHING, RESET_CAUSES, RESET_NOT_FIN, THE_SERVER,
                                     YOUR_CLIENT, arrival, capitalized, in_close_wait,
                                     show_line, status, waiting_for_input)
from grader.session.kernel import TcpState
from grader.session.steps import (OTHER_LOOPBACK, accept_while_running, expect_accepted_at,
                                  expect_error_exit, expect_exit_zero, fail_crash_first,
                                  first_event_at,
                                  let_crash_show, listen_on, upload_reply, wait_printed)
from grader.session.verdict import fail
from grader.session.waiting import Deadline

CLIENT = "upload_client.py"

UPLOAD_NAME = "grader_upload.bin"  # written into the scratch copy, given as a bare name
FILE_DATA = random.Random(6).randbytes(200 * 1024)  # every byte value, NUL and \r\n included
LATE = 0.5  # the reply comes this long after the client's FIN
WORD = b"hello\n"  # the upload of the checks whose rule is not about the file
PIECE_PAUSE = 1.1  # between the two pieces of a reply: longer than a second
MISSING_NAME = "no_such_file.bin"

ACCEPT_TIMEOUT = 10.0   # the client starts and answers three questions
UPLOAD_TIMEOUT = 10.0   # 200 KiB on loopback
EOF_TIMEOUT = 3.0       # after the whole file: the client's FIN
PRINT_TIMEOUT = 3.0     # after the grader's FIN: the reply on the client's screen
EXIT_TIMEOUT = 5.0

CLIENT_FIN = Message("your client ended its upload (FIN)", "客户端结束了上传（FIN）")


class ClientRun:
    """One run of upload_client.py against the grader's server: the bytes that arrived, how
    the client's sending side ended, and what became of the reply sent after that end."""

    def __init__(self, run_program, peer_server, submission, data: bytes = FILE_DATA,
                 host: str = "127.0.0.1") -> None:
        upload = submission.folder / UPLOAD_NAME
        upload.write_bytes(data)
        upload.chmod(0o644)  # the student's uid (docker runner) must read it
        self.data, self.host = data, host
        self.server = peer_server("connection from your client")
        if host != "127.0.0.1":
            listen_on(self.server, host)
        self.program = run_program(CLIENT, answers=[host, str(self.server.port),
                                                    UPLOAD_NAME])
        self.connection = accept_while_running(self.server, self.program, ACCEPT_TIMEOUT)
        self.received = b""
        self.ending = ""  # how the upload ended: "eof", "reset" or "timeout"
        self.side_at_eof = NOTHING  # the client's socket after its FIN, in words
        self.state_without_fin = ""  # its state when the grader gave up waiting for the FIN
        self.reply = b""
        self.replied_at: float | None = None  # monotonic time the reply was sent
        self.reset_after_reply = False
        self.printed = False

    def expect_connected(self) -> None:
        expect_accepted_at(self.connection, self.program, self.host, self.server.port,
                           ACCEPT_TIMEOUT, YOUR_CLIENT)

    def run(self, delay: float = 0.0, split: float | None = None) -> "ClientRun":
        """Take the upload until the client's FIN, reply ``delay`` seconds later, close."""
        self.expect_connected()
        connection = self.connection
        first = connection.read(UPLOAD_TIMEOUT,
                                until=lambda buffer: len(buffer) >= len(self.data))
        rest = connection.read(EOF_TIMEOUT)  # the client's FIN (or more bytes than the file)
        self.received = first.data + rest.data
        self.ending = rest.ending
        if self.ending == "eof" and delay:
            pause = Deadline(delay)
            self.side_at_eof = self._client_side()
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
            self.reply = upload_reply(self.received)
            self.replied_at = time.monotonic()
            if split is None:
                connection.send(self.reply)
            else:  # in two pieces, ``split`` seconds apart
                connection.send_pieces([self.reply[:5], self.reply[5:]], split)
            if self.ending == "eof" and not delay:
                # "At once" is the rule: the client's end is looked at after the reply, as
                # finding its processes' sockets takes a while on a loaded machine.
                self.side_at_eof = self._client_side()
        connection.shutdown_write()  # the server's FIN: the reply is complete
        if self.reply:
            self.printed = wait_printed(
                self.program, self.reply.decode("ascii"), PRINT_TIMEOUT,
                give_up=lambda: peers.reset_seen(connection) or not self.program.running(),
                grace=0.5)  # the last output of a program that just ended may be on its way
            self.reset_after_reply = peers.reset_seen(connection)
        connection.close()
        return self

    def _client_side(self) -> Message:
        """What the kernel shows of the client's end of the connection, in words."""
        # FIN_WAIT1 until the grader's (delayed) ACK of the FIN, FIN_WAIT2 after it: both
        # mean the same here, the client sent its FIN; what matters is who still holds it.
        found = kernel.connection_rows(self.connection.remote_port, self.connection.local_port)
        since = self.connection.log.now() - (first_event_at(self.connection,
                                                            events.EndOfStream) or 0.0)
        ended = NOTHING
        if not self.program.running():
            now = status(self.program, detail=False)  # a crash leads the feedback
            ended = Message(f"; your client had already stopped: it {now.en}",
                            f"；客户端已经结束了：它{now.zh}")
        if not found:
            side = Message("no socket of your client was left on this connection",
                           "这个连接上已经没有客户端的套接字了")
        elif found[0].inode != 0 and \
                found[0].inode in kernel.socket_inodes(self.program.members()):
            side = Message(f"your client's socket was in {found[0].state.name} and still open "
                           f"in your program (a half-close: it could still receive)",
                           f"客户端的套接字处于 {found[0].state.name}，并且仍在程序中打开"
                           f"（半关闭：还能接收）")
        else:
            side = Message(f"your client's socket was in {found[0].state.name} but no longer "
                           f"open in any process: your program had already closed it",
                           f"客户端的套接字处于 {found[0].state.name}，但已经不属于任何进程："
                           f"程序已经把它关闭了")
        return Message(f"{since:.2f} s after the FIN, {side.en}{ended.en}",
                       f"FIN 之后 {since:.2f} 秒，{side.zh}{ended.zh}")

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
        fail_crash_first(
            run.program,
            f"after {count} bytes your client reset the connection ({RESET_NOT_FIN.en}), so "
            f"the upload ended without a proper end of stream and no reply could reach it. "
            f"Send the file, then shutdown(socket.SHUT_WR): that sends a FIN and keeps the "
            f"receiving side open (lesson 4.5, the four-way close). {RESET_CAUSES.en}",
            f"收到 {count} 个字节后客户端重置了连接（{RESET_NOT_FIN.zh}），上传没有正常结束，"
            f"回复也无法送达。请先发送文件，再调用 shutdown(socket.SHUT_WR)：它发出 FIN，同时"
            f"保留接收方向（第 4.5 节，四次挥手）。{RESET_CAUSES.zh}",
            who=YOUR_CLIENT)
    if run.ending != "eof":
        known = run.state_without_fin
        state = f" (its socket was in {known})" if known else ""
        state_zh = f"（它的套接字处于 {known}）" if known else ""
        fail_crash_first(
            run.program,
            f"your client sent {count} bytes, then nothing more and no FIN for "
            f"{EOF_TIMEOUT:.0f} s{state}: it never ended its upload. The server replies only "
            f"after the end of stream (its recv() returns b''), so a client that waits for "
            f"the reply without shutdown(socket.SHUT_WR) waits forever. Half-close after "
            f"sending the file (lesson 4.5, the four-way close).",
            f"客户端发送了 {count} 个字节之后，{EOF_TIMEOUT:.0f} 秒内既没有更多数据也没有 FIN"
            f"{state_zh}：上传一直没有结束。服务器要等到数据流结束（recv() 返回 b''）才回复，"
            f"所以不调用 shutdown(socket.SHUT_WR) 就等回复的客户端会永远等下去。"
            f"请在发完文件后半关闭（第 4.5 节，四次挥手）。",
            who=YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: every byte of a 200 KiB binary file arrives",
                   title_zh="客户端：200 KiB 二进制文件的每个字节都送达")
def test_client_sends_every_byte(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    got, want = run.received, FILE_DATA
    if got == want:
        return
    what = arrival(got, want, run.ending, EOF_TIMEOUT, closed=CLIENT_FIN)
    extra = Message(": send the file's bytes and nothing else", "：只发送文件本身的字节") \
        if got.startswith(want) else NOTHING
    fail_crash_first(
        run.program,
        f"the file {UPLOAD_NAME!r} holds {len(want)} bytes of binary data; the grader "
        f"{what.en}{extra.en}. Open it in binary mode ('rb'), read it to the end (a loop, "
        f"since one read() or send() of a fixed size is not the whole file) and send every "
        f"piece with sendall(). TCP is a byte stream: the server counts exactly the bytes you "
        f"send (lesson 4.5).",
        f"文件 {UPLOAD_NAME!r} 有 {len(want)} 个字节的二进制数据；评分程序{what.zh}{extra.zh}。"
        f"请用二进制方式（'rb'）打开，循环读到文件末尾（固定大小的一次 read() 或 send() 不是整个"
        f"文件），每一块都用 sendall() 发送。TCP 是字节流：服务器统计的正是你发送的字节（第 4.5 节）。",
        who=YOUR_CLIENT)


@pytest.mark.check(points=2, lesson="4.5", program="upload_client.py",
                   title="Client: half-closes with shutdown(SHUT_WR) and still receives",
                   title_zh="客户端：用 shutdown(SHUT_WR) 半关闭后仍能接收")
def test_client_half_closes(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    expect_end_of_stream(run)
    side, reply = run.side_at_eof, show_line(run.reply)
    if run.reset_after_reply:
        fail_crash_first(
            run.program,
            f"the grader saw your client's FIN after {len(run.received)} bytes and sent the "
            f"reply {reply} at once; your client's end answered with RST: its socket was "
            f"closed, so the reply was thrown away. {capitalized(side).en}. close() and "
            f"shutdown(SHUT_RDWR) end both directions; shutdown(socket.SHUT_WR) sends the FIN but keeps the receiving side "
            f"open (FIN_WAIT2), so the reply can still be read (lesson 4.5, the four-way close).",
            f"评分程序在 {len(run.received)} 个字节之后看到了客户端的 FIN，并立即发送回复 "
            f"{reply}；客户端一端用 RST 作答：它的套接字已经关闭，回复被丢弃了。{side.zh}。"
            f"close() 和 shutdown(SHUT_RDWR) 都会关闭两个方向；shutdown(socket.SHUT_WR) 发出 FIN 但保留接收方向"
            f"（FIN_WAIT2），所以还能读到回复（第 4.5 节，四次挥手）。",
            who=YOUR_CLIENT)
    if not run.printed:
        expect_printed_after_fin(run)


def expect_printed_after_fin(run: ClientRun) -> None:
    """The reply sent at once after the client's FIN must be on its screen; if it is not,
    say whether the client had already ended or just did not print it."""
    side, reply = capitalized(run.side_at_eof), show_line(run.reply)
    if run.ended_before_reply():
        let_crash_show(run.program)
        ended = status(run.program)
        fail(f"the grader saw your client's FIN and sent the reply {reply} at once, but your "
             f"client had already stopped: it {ended.en}. It never received the reply. "
             f"{side.en}. After shutdown(SHUT_WR) keep reading with recv() until it returns b'' "
             f"(the server closed), then print the reply (lesson 4.5).",
             f"评分程序看到客户端的 FIN 后立即发送了回复 {reply}，但客户端已经结束：它{ended.zh}。"
             f"它没有收到回复。{side.zh}。shutdown(SHUT_WR) 之后要继续 recv()，直到返回 b''"
             f"（服务器已关闭），再打印回复（第 4.5 节）。")
    ended = status(run.program, detail=False)  # a crash leads the feedback
    fail_crash_first(
        run.program,
        f"the grader saw your client's FIN, sent the reply {reply} at once and closed; your "
        f"client did not print the reply within {PRINT_TIMEOUT:.0f} s (it {ended.en}). "
        f"{side.en}. After shutdown(SHUT_WR), read with recv() until it returns b'', then "
        f"print what came (lesson 4.5).",
        f"评分程序看到客户端的 FIN 后立即发送回复 {reply} 并关闭；客户端在 {PRINT_TIMEOUT:.0f} "
        f"秒内没有打印这个回复（它{ended.zh}）。{side.zh}。shutdown(SHUT_WR) 之后要 recv() "
        f"直到返回 b''，再打印收到的内容（第 4.5 节）。",
        who=YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: prints a reply that comes 0.5 s after its FIN",
                   title_zh="客户端：打印在它的 FIN 之后 0.5 秒才到达的回复")
def test_client_prints_late_reply(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run(delay=LATE)
    expect_end_of_stream(run)
    if run.printed:
        return
    reply, ended = show_line(run.reply), status(run.program, detail=False)
    if run.ended_before_reply() or run.reset_after_reply:
        why = gone_before_late_reply(run)
        fail_crash_first(
            run.program,
            f"the grader sent the reply {reply} {LATE} s after your client's FIN; {why.en}. "
            f"A server may take its time: after shutdown(SHUT_WR) the client sits in FIN_WAIT2 "
            f"and must keep reading until recv() returns b'' (the server's FIN), with no "
            f"timeout and not just one recv() (lesson 4.5, the four-way close).",
            f"评分程序在客户端的 FIN 之后 {LATE} 秒发送回复 {reply}；{why.zh}。服务器可能需要"
            f"一些时间：shutdown(SHUT_WR) 之后客户端处于 FIN_WAIT2，必须一直读到 recv() 返回 "
            f"b''（服务器的 FIN），不要设超时，也不能只 recv() 一次（第 4.5 节，四次挥手）。",
            who=YOUR_CLIENT)
    fail_crash_first(
        run.program,
        f"the grader sent the reply {reply} {LATE} s after your client's FIN, then closed; "
        f"your client did not print it within {PRINT_TIMEOUT:.0f} s (it {ended.en}). Keep "
        f"reading until recv() returns b'', then print everything that came (lesson 4.5).",
        f"评分程序在客户端的 FIN 之后 {LATE} 秒发送回复 {reply}，然后关闭；客户端在 "
        f"{PRINT_TIMEOUT:.0f} 秒内没有打印它（它{ended.zh}）。请一直读到 recv() 返回 b''，"
        f"再打印收到的全部内容（第 4.5 节）。",
        who=YOUR_CLIENT)


def gone_before_late_reply(run: ClientRun) -> Message:
    """Why a late reply could not reach the client: it had ended, or closed its socket."""
    if not run.ended_before_reply():
        return Message("when the reply came your client's socket was already closed: it was "
                       "answered with RST", "回复到达时客户端的套接字已经关闭：回复换来的是 RST")
    after = run.seconds_after_fin(run.program.ended_at)
    ended = status(run.program, detail=False)  # a crash leads the feedback
    rst = Message(" (the reply was answered with RST)", "（回复换来的是 RST）") \
        if run.reset_after_reply else NOTHING
    return Message(f"your client stopped {after:.1f} s after its FIN, before the reply came: "
                   f"it {ended.en}{rst.en}",
                   f"客户端在它的 FIN 之后 {after:.1f} 秒就结束了，回复还没到：它{ended.zh}{rst.zh}")


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: exits 0 after the server closes",
                   title_zh="客户端：服务器关闭后以 0 退出")
def test_client_exits_zero(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission).run()
    program = run.program
    program.wait_exit(EXIT_TIMEOUT)
    before = what_came_before_the_end(run)
    if program.running():
        state, waiting = NOTHING, waiting_for_input(program)
        rows = kernel.connection_rows(run.connection.remote_port, run.connection.local_port)
        if any(row.state == TcpState.CLOSE_WAIT for row in rows):
            stuck = capitalized(in_close_wait(YOUR_CLIENT, THE_SERVER))
            state = Message(f" {stuck.en}.", f"{stuck.zh}。")
        fail(f"{before.en}; {EXIT_TIMEOUT:.0f} s later your client was still running.{state.en}"
             f"{waiting.en} Once recv() returns b'' the exchange is over: print the reply, close "
             f"the socket and exit (lesson 4.5).",
             f"{before.zh}，过了 {EXIT_TIMEOUT:.0f} 秒客户端仍在运行。{state.zh}{waiting.zh}"
             f"recv() 返回 b'' 就说明交换结束了：打印回复，关闭套接字，然后退出（第 4.5 节）。")
    expect_exit_zero(program, YOUR_CLIENT, Message(f"{before.en}; ", f"{before.zh}，"),
                     Message("after a successful upload it should exit with status 0 (a "
                             "non-zero status tells scripts that it failed).",
                             "上传成功后应以状态 0 退出（非 0 状态表示失败）。"))


def what_came_before_the_end(run: ClientRun) -> Message:
    """What the grader did before it waited for the client to exit, in words."""
    reply = show_line(run.reply)
    if run.ending == "eof":
        return Message(f"the grader sent the reply {reply} and closed",
                       f"评分程序发送回复 {reply} 并关闭之后")
    if run.ending == "timeout":
        return Message(f"the grader saw no FIN from your client (see the half-close check), "
                       f"sent the reply {reply} anyway and closed",
                       f"评分程序没有看到客户端的 FIN（见半关闭那一项），仍然发送了回复 {reply} "
                       f"并关闭之后")
    return Message("your client reset the connection (see the half-close check)",
                   "客户端重置了连接之后（见半关闭那一项）")


# -- added for issue #11: the address typed, a reply in pieces, the two error cases ------------

@pytest.mark.check(points=1, lesson="4.2", program="upload_client.py",
                   title="Client: connects to the IP it was given (127.0.0.2)",
                   title_zh="客户端：连接到用户给出的 IP（127.0.0.2）")
def test_client_connects_to_given_address(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission, WORD, host=OTHER_LOOPBACK)
    run.expect_connected()


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: prints a reply that comes in two pieces 1.1 s apart",
                   title_zh="客户端：打印分两段、间隔 1.1 秒到达的回复")
def test_client_reads_reply_in_pieces(run_program, peer_server, submission):
    run = ClientRun(run_program, peer_server, submission, WORD).run(split=PIECE_PAUSE)
    expect_end_of_stream(run)
    if run.printed:
        return
    reply, ended = show_line(run.reply), status(run.program, detail=False)
    fail_crash_first(
        run.program,
        f"after your client's FIN the grader sent the reply {reply} in two pieces "
        f"{PIECE_PAUSE} s apart, then closed; your client did not print the whole reply within "
        f"{PRINT_TIMEOUT:.0f} s (it {ended.en}). One recv() returns what has arrived so far: "
        f"call recv() in a loop, with no timeout, until it returns b'' (the server's FIN), then "
        f"print everything (lesson 4.5).",
        f"客户端的 FIN 之后，评分程序把回复 {reply} 分两段发送，间隔 {PIECE_PAUSE} 秒，然后关闭；"
        f"客户端在 {PRINT_TIMEOUT:.0f} 秒内没有打印完整的回复（它{ended.zh}）。一次 recv() 只返回"
        f"当时已到达的数据：请循环调用 recv()（不要设超时），直到返回 b''（服务器的 FIN），"
        f"再打印全部内容（第 4.5 节）。",
        who=YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.2", program="upload_client.py",
                   title="Client: connection refused: a message, non-zero exit",
                   title_zh="客户端：连接被拒绝时给出提示并以非 0 状态退出")
def test_client_connection_refused(run_program, submission, free_port):
    upload = submission.folder / UPLOAD_NAME
    upload.write_bytes(WORD)
    upload.chmod(0o644)
    program = run_program(CLIENT, answers=["127.0.0.1", str(free_port), UPLOAD_NAME])
    expect_error_exit(program, EXIT_TIMEOUT,
                      Message(f"nothing listened on 127.0.0.1 port {free_port} (the connection "
                              f"was refused)", f"127.0.0.1 的 {free_port} 端口上没有服务（连接被拒绝）"),
                      YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.5", program="upload_client.py",
                   title="Client: missing file: a message, non-zero exit",
                   title_zh="客户端：文件不存在时给出提示并以非 0 状态退出")
def test_client_missing_file(run_program, peer_server, submission):
    server = peer_server("connection from your client")  # for a client that connects first
    program = run_program(CLIENT, answers=["127.0.0.1", str(server.port), MISSING_NAME])
    expect_error_exit(program, EXIT_TIMEOUT,
                      Message(f"the file {MISSING_NAME!r} did not exist",
                              f"文件 {MISSING_NAME!r} 不存在"),
                      YOUR_CLIENT)
