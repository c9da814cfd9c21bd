"""Checks of 01-tcp-client (lesson 4.2): the grader is the server, the student's client.py
connects to it. Every check runs the client afresh and judges one contract point."""

from __future__ import annotations

import pytest

from grader import kernel
from grader.events import preview
from grader.steps import squash, wait_no_close_wait
from grader.verdict import expect, fail
from grader.waiting import wait_until

PROGRAM = "client.py"
ASCII_MESSAGE = "hello from the grader 123"
CHINESE_MESSAGE = "你好，服务器！TCP 客户端测试"
PIECED_REPLY = [b"The grader got your message. ", b"This reply comes in pieces, ",
                b"so one recv() is not enough."]
CHINESE_REPLY = "收到了，谢谢！这是分几段发送的中文回复。".encode("utf-8")
PAUSE = 0.3
ACCEPT_TIMEOUT = 5.0


class Dialogue:
    """One run of the client against the grader's server: what it sent, printed and did."""

    def __init__(self, run_program, peer_server, message: str,
                 reply_pieces: list[bytes] = (b"thank you !",)) -> None:
        self.server = peer_server("connection from your client")
        self.program = run_program(PROGRAM, answers=["127.0.0.1", str(self.server.port), message])
        self.message = message.encode("utf-8")
        self.reply_pieces = list(reply_pieces)
        self.connection = self.server.accept(ACCEPT_TIMEOUT)
        self.sent = b""
        self.close_wait: list[kernel.SocketRow] = []
        self.client_closed = None

    def expect_connected(self) -> None:
        if self.connection is not None:
            return
        if self.program.unanswered_question:
            fail("your client asked more than three questions (server IP, server port, message) "
                 "and never connected. Ask exactly those, in that order.",
                 "客户端提了三个以上的问题（服务器 IP、端口、消息），并且没有连接。"
                 "请按顺序只询问这三项。")
        fail(f"your client did not connect to 127.0.0.1 port {self.server.port} within "
             f"{ACCEPT_TIMEOUT:.0f} s after it was given that address (lesson 4.2: connect() "
             f"to the IP and port the user typed).",
             f"给出地址后 {ACCEPT_TIMEOUT:.0f} 秒内，客户端没有连接到 127.0.0.1 的 "
             f"{self.server.port} 端口（第 4.2 节：connect() 到用户输入的 IP 和端口）。")

    def run(self) -> "Dialogue":
        """Take the message, reply in pieces, half-close, and watch the client end."""
        self.expect_connected()
        first = self.connection.read(3.0, until=lambda buffer: len(buffer) >= len(self.message))
        self.connection.send_pieces(self.reply_pieces, PAUSE)
        self.connection.shutdown_write()  # the server's FIN: the end of the reply
        rest = self.connection.read_until_closed(2.0)
        self.sent = first.data + rest.data
        self.client_closed = rest.closed
        self.close_wait = wait_no_close_wait(self.program, 0.5)
        self.program.wait_exit(2.0 if self.client_closed else 0.5)
        return self

    def printed_reply(self, reply: bytes) -> bool:
        text = reply.decode("utf-8")
        # Until printed, or until the program ended *and* its last output was read.
        wait_until(lambda: squash(text) in squash(self.program.printed)
                   or self.program.finished(), 3.0)
        return squash(text) in squash(self.program.printed)


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Connects to the address it was given",
                    title_zh="连接到用户给出的地址")
def test_connects_to_given_address(run_program, peer_server):
    Dialogue(run_program, peer_server, ASCII_MESSAGE).expect_connected()


def _expect_message(dialogue: Dialogue, kind: str, kind_zh: str) -> None:
    expected = dialogue.message
    expect(dialogue.sent == expected,
           f"the server should have received exactly the {len(expected)} UTF-8 bytes of the "
           f"{kind} message {preview(expected)}, but it received {len(dialogue.sent)} bytes "
           f"{preview(dialogue.sent)}. Send message.encode('utf-8'), all of it (sendall), "
           f"nothing added (lesson 4.2).",
           f"服务器应收到{kind_zh}消息 {preview(expected)} 的 {len(expected)} 个 UTF-8 字节，"
           f"实际收到 {len(dialogue.sent)} 个字节 {preview(dialogue.sent)}。请发送 "
           f"message.encode('utf-8') 的全部内容（sendall），不要增减（第 4.2 节）。")


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Sends the message exactly (ASCII)",
                    title_zh="准确发送消息（英文）")
def test_sends_message_ascii(run_program, peer_server):
    _expect_message(Dialogue(run_program, peer_server, ASCII_MESSAGE).run(), "ASCII", "英文")


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Sends the message exactly (Chinese, UTF-8)",
                    title_zh="准确发送消息（中文，UTF-8）")
def test_sends_message_chinese(run_program, peer_server):
    _expect_message(Dialogue(run_program, peer_server, CHINESE_MESSAGE).run(), "Chinese", "中文")


@pytest.mark.check(points=2, lesson="4.2", program="client.py",
                    title="Prints a reply sent in pieces, until the server closes",
                    title_zh="完整打印分段到达的回复")
def test_prints_reply_in_pieces(run_program, peer_server):
    dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE, PIECED_REPLY).run()
    reply = b"".join(PIECED_REPLY)
    expect(dialogue.printed_reply(reply),
           f"the server sent its reply in {len(PIECED_REPLY)} pieces {PAUSE * 1000:.0f} ms "
           f"apart, then closed; your client did not print all of it. TCP is a byte stream: "
           f"one recv() returns whatever has arrived so far. Call recv() in a loop until it "
           f"returns b'' (the server closed), then print everything (lesson 4.2).",
           f"服务器把回复分 {len(PIECED_REPLY)} 段发送，每段间隔 {PAUSE * 1000:.0f} 毫秒，然后关闭连接；"
           f"客户端没有打印完整的回复。TCP 是字节流：一次 recv() 只返回当时已到达的数据。"
           f"请循环调用 recv() 直到返回 b''（服务器已关闭），再打印全部内容（第 4.2 节）。")


@pytest.mark.check(points=1, lesson="4.2", program="client.py",
                    title="Decodes a reply whose piece ends inside a character",
                    title_zh="正确解码被截断在字符中间的回复")
def test_prints_reply_split_utf8(run_program, peer_server):
    cut = 4  # inside the second character: UTF-8 Chinese characters take 3 bytes
    pieces = [CHINESE_REPLY[:cut], CHINESE_REPLY[cut:20], CHINESE_REPLY[20:]]
    dialogue = Dialogue(run_program, peer_server, CHINESE_MESSAGE, pieces).run()
    expect(dialogue.printed_reply(CHINESE_REPLY),
           f"the reply {CHINESE_REPLY.decode()!r} arrived in pieces, the first ending in the "
           f"middle of a character (byte {cut} of a 3-byte character); your client did not "
           f"print it correctly. Collect all the bytes first and decode once at the end "
           f"(lesson 4.2: decode('utf-8') after the whole reply arrived).",
           f"回复 {CHINESE_REPLY.decode()!r} 分段到达，第一段在一个汉字的中间截断；客户端没有正确打印它。"
           f"请先收齐全部字节，最后再一次性 decode('utf-8')（第 4.2 节）。")


@pytest.mark.check(points=2, lesson="4.5", program="client.py",
                    title="Closes its socket and exits 0 after the server closes",
                    title_zh="服务器关闭后客户端关闭套接字并以 0 退出")
def test_closes_after_server_closes(run_program, peer_server):
    dialogue = Dialogue(run_program, peer_server, ASCII_MESSAGE).run()
    program = dialogue.program
    if dialogue.close_wait:
        waiting = " It was waiting for more keyboard input." if program.unanswered_question else ""
        fail(f"after the server closed the connection, your client's socket sat in CLOSE_WAIT "
             f"({dialogue.close_wait[0].describe()}) instead of being closed.{waiting} When recv() "
             f"returns b'' the server is done: close the socket and finish (lesson 4.4, note 9; "
             f"the four-way close of lesson 4.5).",
             f"服务器关闭连接后，客户端的套接字停留在 CLOSE_WAIT 状态，没有关闭。"
             f"{'它在等待更多键盘输入。' if program.unanswered_question else ''}recv() 返回 b'' "
             f"表示服务器已经结束：请关闭套接字并退出（第 4.4 节第 9 点；第 4.5 节四次挥手）。")
    expect(not program.running(),
           "after the server closed the connection, your client kept running for 3 s"
           + (", waiting for more keyboard input" if program.unanswered_question else "")
           + ". Once the reply is printed the client should close its socket and exit.",
           "服务器关闭连接后，客户端又运行了 3 秒"
           + ("，在等待更多键盘输入" if program.unanswered_question else "")
           + "。打印回复后客户端应关闭套接字并退出。")
    expect(program.exit_status == 0 and not program.has_traceback(),
           f"your client ended with {program.exit_description()}"
           f"{' and a traceback' if program.has_traceback() else ''}; it should exit 0.",
           f"客户端的结束方式是 {program.exit_description()}"
           f"{'，并打印了异常回溯' if program.has_traceback() else ''}；应以状态 0 退出。")


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
    expect(not program.has_traceback(),
           "when the connection was refused your client ended with a traceback. Catch "
           "ConnectionRefusedError (or OSError) and print a message for the user.",
           "连接被拒绝时客户端以异常回溯结束。请捕获 ConnectionRefusedError（或 OSError），"
           "并给用户打印一条提示。")
    expect(program.exit_status not in (0, None),
           f"when the connection was refused your client ended with "
           f"{program.exit_description()}. A failed program should exit with a non-zero status "
           f"(sys.exit(1)) so that scripts can tell.",
           f"连接被拒绝时客户端的结束方式是 {program.exit_description()}。"
           f"失败时应以非 0 状态退出（sys.exit(1)）。")
    last_answer = program.answers_given[-1] if program.answers_given else ""
    after = program.output.rsplit(last_answer + "\n", 1)[-1] if last_answer else program.output
    expect(after.strip(),
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
