"""Checks of 02-tcp-server (lesson 4.3): the grader is the client of the student's
server.py, which serves one client and exits by itself."""

from __future__ import annotations

import pytest

from grader import kernel
from grader.events import preview
from grader.kernel import TcpState
from grader.steps import squash, start_server
from grader.verdict import expect, fail
from grader.waiting import wait_until

PROGRAM = "server.py"
ASCII_MESSAGE = "hello server, this is the grader"
CHINESE_MESSAGE = "你好，服务器！这是评分程序发来的消息。"
REPLY = "thank you !".encode("utf-8")


class Exchange:
    """One run of the server: start, one client sends one message, read until closed."""

    def __init__(self, run_program, connect, port: int, message: str = ASCII_MESSAGE) -> None:
        self.port = port
        self.message = message
        self.server = start_server(run_program, PROGRAM, port)
        self.connection = connect(port, name="grader's client")
        expect(self.connection is not None,
               f"your server listened on port {port} but the grader's connection was refused.",
               f"服务器在端口 {port} 上监听，但评分程序的连接被拒绝。")
        self.connection.send(message.encode("utf-8"))
        self.reply = self.connection.read_until_closed(3.0)
        self.server.wait_exit(3.0)

    def expect_printed(self) -> None:
        shown = wait_until(lambda: squash(self.message) in squash(self.server.printed), 1.0)
        expect(shown,
               f"the grader sent {preview(self.message.encode())}; your server did not print "
               f"it. Decode the bytes with decode('utf-8') and print them (lesson 4.3).",
               f"评分程序发送了 {preview(self.message.encode())}，服务器没有把它打印出来。"
               f"请用 decode('utf-8') 解码后打印（第 4.3 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Listens on the port within 5 s", title_zh="5 秒内在指定端口上监听")
def test_listens_within_5s(run_program, free_port):
    start_server(run_program, PROGRAM, free_port)


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Prints the message (ASCII)", title_zh="打印收到的消息（英文）")
def test_prints_message_ascii(run_program, connect, free_port):
    Exchange(run_program, connect, free_port, ASCII_MESSAGE).expect_printed()


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Prints the message (Chinese, UTF-8)", title_zh="打印收到的消息（中文，UTF-8）")
def test_prints_message_chinese(run_program, connect, free_port):
    Exchange(run_program, connect, free_port, CHINESE_MESSAGE).expect_printed()


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Replies 'thank you !'", title_zh="回复 'thank you !'")
def test_replies_thank_you(run_program, connect, free_port):
    exchange = Exchange(run_program, connect, free_port)
    expect(exchange.reply.data == REPLY,
           f"the reply should be exactly {preview(REPLY)} ({len(REPLY)} bytes); the grader "
           f"received {preview(exchange.reply.data)} ({len(exchange.reply.data)} bytes) "
           f"(lesson 4.3: send('thank you !'.encode('utf-8'))).",
           f"回复应恰好是 {preview(REPLY)}（{len(REPLY)} 个字节），评分程序收到的是 "
           f"{preview(exchange.reply.data)}（{len(exchange.reply.data)} 个字节）（第 4.3 节）。")


@pytest.mark.check(points=2, lesson="4.5", program="server.py",
                   title="Closes the connection after replying (FIN)",
                   title_zh="回复后关闭连接（FIN）")
def test_closes_with_fin(run_program, connect, free_port):
    exchange = Exchange(run_program, connect, free_port)
    ending = exchange.reply.ending
    if ending == "reset":
        fail("after replying, your server reset the connection (the grader saw RST, not FIN). "
             "A reset throws away data still in flight; close the client's socket normally "
             "with close() (lesson 4.5, the four-way close). A reset also happens when you close "
             "with unread data, or with SO_LINGER set to 0.",
             "回复后服务器重置了连接（评分程序看到的是 RST 而不是 FIN）。重置会丢弃仍在传输的数据；"
             "请用 close() 正常关闭客户端套接字（第 4.5 节，四次挥手）。带着未读数据关闭或把 "
             "SO_LINGER 设为 0 也会导致重置。")
    expect(ending == "eof",
           "after replying, your server never closed the connection: the grader waited 3 s and "
           "saw no FIN. Close the client's socket when you are done with it (lesson 4.3).",
           "回复后服务器一直没有关闭连接：评分程序等了 3 秒没有看到 FIN。"
           "用完客户端套接字后请关闭它（第 4.3 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Exits 0 and releases the port", title_zh="以 0 退出并释放端口")
def test_exits_and_releases_port(run_program, connect, free_port):
    exchange = Exchange(run_program, connect, free_port)
    server = exchange.server
    expect(not server.running(),
           "after serving its one client your server was still running 3 s later. This server "
           "serves one client, then closes the listening socket and exits (lesson 4.3).",
           "服务完唯一的客户端 3 秒后，服务器仍在运行。这个服务器只服务一个客户端，"
           "然后关闭监听套接字并退出（第 4.3 节）。")
    expect(server.exit_status == 0 and not server.has_traceback(),
           f"your server ended with {server.exit_description()}"
           f"{' and a traceback' if server.has_traceback() else ''}; it should exit 0.",
           f"服务器的结束方式是 {server.exit_description()}"
           f"{'，并打印了异常回溯' if server.has_traceback() else ''}；应以状态 0 退出。")
    expect(not kernel.is_listening(free_port),
           f"after your server exited, port {free_port} was still listening.",
           f"服务器退出后端口 {free_port} 仍在监听。")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="server.py",
                   title="A client that sends nothing is handled", title_zh="正确处理什么也不发送的客户端")
def test_empty_client(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect(free_port, name="grader's empty client")
    expect(connection is not None, f"the grader's connection to port {free_port} was refused.",
           f"评分程序到端口 {free_port} 的连接被拒绝。")
    connection.close()  # connect, then close at once: the server's recv() returns b''
    server.wait_exit(3.0)
    expect(not server.has_traceback(),
           "a client connected and closed without sending anything; your server ended with a "
           "traceback. recv() returning b'' means the client closed: handle it (lesson 4.4, "
           "note 8).",
           "一个客户端连接后什么也没发送就关闭了；服务器以异常回溯结束。recv() 返回 b'' "
           "表示客户端已关闭，请处理这种情况（第 4.4 节第 8 点）。")
    expect(not server.running() and server.exit_status == 0,
           f"a client connected and closed without sending anything; 3 s later your server had "
           f"{server.exit_description()} instead of exiting 0.",
           f"一个客户端连接后什么也没发送就关闭了；3 秒后服务器的状态是 "
           f"{server.exit_description()}，而不是以 0 退出。")


@pytest.mark.check(points=2, lesson="4.4 note 3", program="server.py",
                   title="Run again at once, binds the port despite TIME_WAIT",
                   title_zh="立即再次运行时，即使有 TIME_WAIT 也能绑定端口")
def test_rebinds_after_time_wait(run_program, connect, free_port):
    first = Exchange(run_program, connect, free_port)
    expect(first.reply.ending == "eof" and not first.server.running(),
           "the first run did not close the connection and exit, so the restart could not be "
           "tried (see the other checks).",
           "第一次运行没有关闭连接并退出，所以无法测试重新启动（见其他检查项）。")
    first.connection.close()
    time_wait = wait_until(lambda: kernel.rows_on_port(free_port, TcpState.TIME_WAIT), 1.0)
    second = run_program(PROGRAM, args=[str(free_port)])
    listening = kernel.wait_for_listen(free_port, 5.0, second.running)
    if not listening:
        state = ("while the first run's side of the connection sat in TIME_WAIT"
                 if time_wait else "right after the first run")
        state_zh = "第一次运行留下的连接仍处于 TIME_WAIT 时" if time_wait else "第一次运行刚结束时"
        fail(f"started again on port {free_port} {state}, your server did not listen "
             f"({second.exit_description()}). Set SO_REUSEADDR on the listening socket before "
             f"bind() (lesson 4.4, note 3).",
             f"{state_zh}在端口 {free_port} 上再次启动，服务器没有开始监听（{second.exit_description()}）。"
             f"请在 bind() 之前给监听套接字设置 SO_REUSEADDR（第 4.4 节第 3 点）。")
