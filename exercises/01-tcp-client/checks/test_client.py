"""Checks of 01-tcp-client (lesson 4.2): the grader is the server, the student's client.py
connects to it. Every check runs the client afresh and judges one contract point."""

from __future__ import annotations

import pytest

from grader.language import Message
from grader.session import kernel
from grader.session.events import preview
from grader.session.feedback import (THE_SERVER, YOUR_CLIENT, crash_of, difference,
                                     in_close_wait, raised, status, waiting_for_input)
from grader.session.steps import (OTHER_LOOPBACK, accept_while_running, expect_accepted,
                                  expect_accepted_at, expect_crash_first, expect_exit_zero,
                                  fail_crash_first, let_crash_show, listen_on,
                                  printed_after_answers, wait_no_close_wait, wait_printed)
from grader.session.verdict import expect, fail

PROGRAM = "client.py"
ASCII_MESSAGE = "hello from the grader 123"
SPACED_MESSAGE = "  hello from the grader, with spaces around  "  # every byte: none stripped
CHINESE_MESSAGE = "你好，服务器！TCP 客户端测试"
PIECED_REPLY = [b"The grader got your message. This reply comes in pieces, ",
                b"so one recv() is not enough."]
LONG_PAUSE = 1.1  # longer than a second: a client that gives up after a second of silence
CHINESE_REPLY = "收到了，谢谢！这是分几段发送的中文回复。".encode("utf-8")
PAUSE = 0.3
ACCEPT_TIMEOUT = 5.0


class Dialogue:
    """One run of the client against the grader's server: what it sent, printed and did."""

    def __init__(self, run_program, peer_server, message: str,
                 reply_pieces: list[bytes] = (b"thank you !",), host: str = "127.0.0.1",
                 pause: float = PAUSE) -> None:
        self.server = peer_server("connection from your client")
        if host != "127.0.0.1":
            listen_on(self.server, host)
        self.host = host
        self.program = run_program(PROGRAM, answers=[host, str(self.server.port), message])
        self.message = message.encode("utf-8")
        self.reply_pieces = list(reply_pieces)
        self.pause = pause
        self.connection = accept_while_running(self.server, self.program, ACCEPT_TIMEOUT)
        self.sent = b""
        self.close_wait: list[kernel.SocketRow] = []
        self.client_closed = None
        self.stopped_early = False  # it ended the connection before the reply was complete

    def expect_connected(self) -> None:
        expect_accepted(self.connection, self.program, self.server.port, ACCEPT_TIMEOUT,
                        Message("message", "消息"), Message("that address", "地址"))

    def run(self) -> "Dialogue":
        """Take the message, reply in pieces, half-close, and watch the client end."""
        self.expect_connected()
        first = self.connection.read(3.0, until=lambda buffer: len(buffer) >= len(self.message))
        complete = self.connection.send_pieces(self.reply_pieces, self.pause)
        early = self.connection.read(0)  # did it close before the reply ended?
        self.stopped_early = not complete or early.closed
        self.connection.shutdown_write()  # the server's FIN: the end of the reply
        rest = self.connection.read_until_closed(2.0)
        self.sent = first.data + early.data + rest.data
        self.client_closed = early.closed or rest.closed
        self.close_wait = wait_no_close_wait(self.program, 0.5)
        self.program.wait_exit(2.0 if self.client_closed else 0.5)
        return self

    def printed_reply(self, reply: bytes) -> bool:
        return wait_printed(self.program, reply.decode("utf-8"), 3.0)


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Connects to the address it was given",
                    title_zh="连接到用户给出的地址")
def test_connects_to_given_address(run_program, peer_server):
    dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE, host=OTHER_LOOPBACK)
    expect_accepted_at(dialogue.connection, dialogue.program, OTHER_LOOPBACK,
                       dialogue.server.port, ACCEPT_TIMEOUT, YOUR_CLIENT)


def _expect_message(dialogue: Dialogue, kind: str, kind_zh: str) -> None:
    expected, got = dialogue.message, difference(dialogue.sent, dialogue.message)
    expect_crash_first(
        dialogue.sent == expected, dialogue.program,
        f"the server should have received exactly the {len(expected)} UTF-8 bytes of the "
        f"{kind} message {preview(expected)}, but it {got.en}. Send message.encode('utf-8'), "
        f"all of it (sendall), nothing added or removed (no strip()) (lesson 4.2).",
        f"服务器应收到{kind_zh}消息 {preview(expected)} 的 {len(expected)} 个 UTF-8 字节，"
        f"实际{got.zh}。请发送 message.encode('utf-8') 的全部内容（sendall），不要增减（不要 strip()）"
        f"（第 4.2 节）。",
        who=YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Sends the message exactly (ASCII)",
                    title_zh="准确发送消息（英文）")
def test_sends_message_ascii(run_program, peer_server):
    _expect_message(Dialogue(run_program, peer_server, SPACED_MESSAGE).run(), "ASCII", "英文")


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Sends the message exactly (Chinese, UTF-8)",
                    title_zh="准确发送消息（中文，UTF-8）")
def test_sends_message_chinese(run_program, peer_server):
    _expect_message(Dialogue(run_program, peer_server, CHINESE_MESSAGE).run(), "Chinese", "中文")


@pytest.mark.check(points=2, lesson="4.2", program="client.py",
                    title="Prints a reply sent in pieces, until the server closes",
                    title_zh="完整打印分段到达的回复")
def test_prints_reply_in_pieces(run_program, peer_server):
    dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE, PIECED_REPLY,
                        pause=LONG_PAUSE).run()
    reply = b"".join(PIECED_REPLY)
    expect_crash_first(
        dialogue.printed_reply(reply), dialogue.program,
        f"the server sent its reply in {len(PIECED_REPLY)} pieces {LONG_PAUSE:.1f} s "
        f"apart, then closed; your client did not print all of it. TCP is a byte stream: "
        f"one recv() returns whatever has arrived so far. Call recv() in a loop until it "
        f"returns b'' (the server closed), then print everything (lesson 4.2).",
        f"服务器把回复分 {len(PIECED_REPLY)} 段发送，间隔 {LONG_PAUSE:.1f} 秒，然后关闭连接；"
        f"客户端没有打印完整的回复。TCP 是字节流：一次 recv() 只返回当时已到达的数据。"
        f"请循环调用 recv() 直到返回 b''（服务器已关闭），再打印全部内容（第 4.2 节）。",
        who=YOUR_CLIENT)


DECODE_ONCE = Message(
    "Decoding each piece breaks that character: collect all the bytes first and decode once "
    "at the end (lesson 4.2: decode('utf-8') after the whole reply).",
    "逐段解码会把这个字拆坏：请先收齐全部字节，最后再一次性 decode('utf-8')（第 4.2 节）。")


def _decoding_fault(program, received: str) -> tuple[Message, Message] | None:
    """What the output shows of a decoding fault, if anything, and the advice it supports: a
    UnicodeDecodeError or a replacement character (a piece decoded on its own), the bytes'
    repr (never decoded), or other characters than the reply's."""
    crash = crash_of(program)
    printed = program.printed
    if crash and "UnicodeDecodeError" in crash.exception:
        return Message("crashed while decoding a piece", "在解码某一段时崩溃了"), DECODE_ONCE
    if "\ufffd" in printed:
        return Message("printed replacement characters (\ufffd) instead of some characters",
                       "打印出了替换字符（\ufffd），而不是汉字"), DECODE_ONCE
    if "\\x" in printed:
        return (Message("printed the bytes (b'\\xe6...') instead of the text",
                        "打印的是字节（b'\\xe6...'），而不是文字"),
                Message("Print the text: reply.decode('utf-8'), not the bytes object (lesson 4.2).",
                        "请打印文字：reply.decode('utf-8')，而不是 bytes 对象（第 4.2 节）。"))
    if received[:3] not in printed:
        return Message("did not print the characters it had received",
                       "没有打印出它收到的汉字"), DECODE_ONCE
    return None


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Decodes a reply whose piece ends inside a character",
                    title_zh="正确解码被截断在字符中间的回复")
def test_prints_reply_split_utf8(run_program, peer_server):
    cut = 13  # the second piece ends inside a character: a Chinese character is 3 bytes
    pieces = [CHINESE_REPLY[:9], CHINESE_REPLY[9:cut], CHINESE_REPLY[cut:]]
    dialogue = Dialogue(run_program, peer_server, CHINESE_MESSAGE, pieces).run()
    if dialogue.printed_reply(CHINESE_REPLY):
        return
    let_crash_show(dialogue.program)
    fault = _decoding_fault(dialogue.program, CHINESE_REPLY.decode())
    if fault is None and dialogue.stopped_early:
        return  # it printed what it read, correctly decoded: reading too little is judged
        # by test_prints_reply_in_pieces, not here
    fault, advice = fault or (Message("did not print it", "没有打印它"), DECODE_ONCE)
    fail_crash_first(
        dialogue.program,
        f"the reply {CHINESE_REPLY.decode()!r} arrived in 3 pieces, the second ending in the "
        f"middle of a character (a Chinese character is 3 UTF-8 bytes); your client "
        f"{fault.en}. {advice.en}",
        f"回复 {CHINESE_REPLY.decode()!r} 分 3 段到达，第二段在一个汉字的中间截断（一个汉字占 3 个 "
        f"UTF-8 字节）；客户端{fault.zh}。{advice.zh}", who=YOUR_CLIENT)


@pytest.mark.check(points=2, lesson="4.5", program="client.py",
                    title="Closes its socket and exits 0 after the server closes",
                    title_zh="服务器关闭后客户端关闭套接字并以 0 退出")
def test_closes_after_server_closes(run_program, peer_server):
    dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE).run()
    program, waiting = dialogue.program, waiting_for_input(dialogue.program)
    if dialogue.close_wait:
        stuck = in_close_wait(YOUR_CLIENT, THE_SERVER, dialogue.close_wait[0])
        fail(f"after the server closed the connection, {stuck.en}.{waiting.en} When recv() "
             f"returns b'' the server is done: close the socket and finish (lesson 4.4, note 9; "
             f"the four-way close of lesson 4.5).",
             f"服务器关闭连接后，{stuck.zh}。{waiting.zh}recv() 返回 b'' 表示服务器已经结束："
             f"请关闭套接字并退出（第 4.4 节第 9 点；第 4.5 节四次挥手）。")
    expect(not program.running(),
           f"after the server closed the connection, your client kept running for 3 s."
           f"{waiting.en} Once the reply is printed the client should close its socket and exit.",
           f"服务器关闭连接后，客户端又运行了 3 秒。{waiting.zh}打印回复后客户端应关闭套接字并退出。")
    expect_exit_zero(program, YOUR_CLIENT)


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Connection refused: a clear message, non-zero exit",
                    title_zh="连接被拒绝：给出清楚的提示并以非 0 状态退出")
def test_connection_refused(run_program, free_port):
    program = run_program(PROGRAM, answers=["127.0.0.1", str(free_port), ASCII_MESSAGE])
    ended = program.wait_exit(5.0)
    expect(ended, f"nothing listened on port {free_port}, yet your client was still running "
                  f"5 s later. A refused connect() raises ConnectionRefusedError at once.",
           f"端口 {free_port} 上没有任何服务，但客户端 5 秒后仍在运行。"
           f"被拒绝的 connect() 会立即抛出 ConnectionRefusedError。")
    let_crash_show(program)  # the words below describe its whole end
    crash, ended = raised(crash_of(program)), status(program)
    expect(not program.has_traceback(),
           f"when the connection was refused your client ended with a traceback: {crash.en}. "
           f"Catch ConnectionRefusedError (or OSError) and print a message for the user.",
           f"连接被拒绝时客户端以异常回溯结束：{crash.zh}。请捕获 ConnectionRefusedError"
           f"（或 OSError），并给用户打印一条提示。")
    expect(program.exit_status not in (0, None),
           f"when the connection was refused your client {ended.en}. A failed program should "
           f"exit with a non-zero status (sys.exit(1)) so that scripts can tell.",
           f"连接被拒绝时客户端{ended.zh}。失败时应以非 0 状态退出（sys.exit(1)）。")
    expect(printed_after_answers(program).strip(),
           "when the connection was refused your client printed nothing after its questions. "
           "Tell the user what went wrong (for example: cannot connect to 127.0.0.1:PORT).",
           "连接被拒绝时客户端在提问之后什么也没有打印。请告诉用户出了什么问题"
           "（例如：无法连接到 127.0.0.1:端口）。")


@pytest.mark.check(points=1, lesson="4.4 note 2", program="client.py",
                    title="Lets the system choose its local port",
                    title_zh="由系统分配本地端口")
def test_no_fixed_local_port(run_program, peer_server):
    low, high = kernel.ephemeral_port_range()
    ports = []
    for _run in range(2):
        dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE).run()
        ports.append(dialogue.connection.remote_port)
    fixed = [port for port in ports if not low <= port <= high]
    expect(not fixed and ports[0] != ports[1],
           f"your client connected from local port {ports[0]} and then again from port "
           f"{ports[1]}. A client should not bind() a fixed port: let the system pick a free "
           f"one ({low}-{high}) at connect() (lesson 4.4, note 2).",
           f"客户端两次连接的本地端口分别是 {ports[0]} 和 {ports[1]}。客户端不应 bind() "
           f"固定端口，应在 connect() 时由系统分配空闲端口（{low}-{high}）（第 4.4 节第 2 点）。")
