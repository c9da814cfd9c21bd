"""Checks of 02-tcp-server (lesson 4.3): the grader is the client of the student's
server.py, which serves one client and exits by itself."""

from __future__ import annotations

import pytest

from grader.session import kernel
from grader.session.events import preview
from grader.session.feedback import (RESET_CAUSES, RESET_NOT_FIN, YOUR_SERVER, crash_of,
                                     difference, raised, status)
from grader.session.steps import (connect_or_fail, expect_crash_first, expect_exit_zero,
                                 expect_restart_listens, fail_crash_first, let_crash_show,
                                 squash, start_on_default_port, start_server)
from grader.session.verdict import expect
from grader.session.waiting import wait_until

PROGRAM = "server.py"
WORD = "hello"  # the checks whose rule is not about the message send one word
ASCII_MESSAGE = "hello server, this is the grader"  # longer than a small recv()
CHINESE_MESSAGE = "你好服务器"  # 15 bytes: the check is about UTF-8, not about its length
ALL_ADDRESSES = ("0.0.0.0", "::")  # bind(("", port)): every address of the machine
REPLY = "thank you !".encode("utf-8")


class Exchange:
    """One run of the server: start, one client sends one message, read until closed."""

    def __init__(self, run_program, connect, port: int, message: str = WORD) -> None:
        self.port = port
        self.message = message
        self.server = start_server(run_program, PROGRAM, port)
        self.connection = connect_or_fail(connect, port, "grader's client")
        self.connection.send(message.encode("utf-8"))
        self.reply = self.connection.read_until_closed(3.0)
        self.server.wait_exit(3.0)

    def expect_printed(self) -> None:
        shown = wait_until(lambda: squash(self.message) in squash(self.server.printed), 5.0)
        expect_crash_first(
            shown, self.server,
            f"the grader sent {preview(self.message.encode())}; your server did not print it. "
            f"Decode the bytes with decode('utf-8') and print them (lesson 4.3).",
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
    reply = exchange.reply.data
    got = difference(reply, REPLY)
    expect_crash_first(
        reply == REPLY, exchange.server,
        f"the reply should be exactly {preview(REPLY)} ({len(REPLY)} bytes); the grader "
        f"{got.en} (lesson 4.3: send('thank you !'.encode('utf-8'))).",
        f"回复应恰好是 {preview(REPLY)}（{len(REPLY)} 个字节），评分程序{got.zh}（第 4.3 节）。")


@pytest.mark.check(points=2, lesson="4.5", program="server.py",
                   title="Closes the connection after replying (FIN)",
                   title_zh="回复后关闭连接（FIN）")
def test_closes_with_fin(run_program, connect, free_port):
    exchange = Exchange(run_program, connect, free_port)
    ending = exchange.reply.ending
    if ending == "reset":
        fail_crash_first(
            exchange.server,
            f"after replying, your server reset the connection ({RESET_NOT_FIN.en}). A reset "
            f"throws away data still in flight; close the client's socket normally with close() "
            f"(lesson 4.5, the four-way close). {RESET_CAUSES.en}",
            f"回复后服务器重置了连接（{RESET_NOT_FIN.zh}）。重置会丢弃仍在传输的数据；"
            f"请用 close() 正常关闭客户端套接字（第 4.5 节，四次挥手）。{RESET_CAUSES.zh}")
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
    expect_exit_zero(server, YOUR_SERVER)
    expect(not kernel.is_listening(free_port),
           f"after your server exited, port {free_port} was still listening.",
           f"服务器退出后端口 {free_port} 仍在监听。")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="server.py",
                   title="A client that sends nothing is handled", title_zh="正确处理什么也不发送的客户端")
def test_empty_client(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    # Connect, then close at once: the server's recv() returns b''.
    connect_or_fail(connect, free_port, "grader's empty client").close()
    server.wait_exit(3.0)
    let_crash_show(server)  # the words below describe its whole end
    crash, now = raised(crash_of(server)), status(server)
    expect(not server.has_traceback(),
           f"a client connected and closed without sending anything; your server ended with a "
           f"traceback: {crash.en}. recv() returning b'' means the client closed: handle it "
           f"(lesson 4.4, note 8).",
           f"一个客户端连接后什么也没发送就关闭了；服务器以异常回溯结束：{crash.zh}。recv() 返回 "
           f"b'' 表示客户端已关闭，请处理这种情况（第 4.4 节第 8 点）。")
    expect(not server.running() and server.exit_status == 0,
           f"a client connected and closed without sending anything; 3 s later your server "
           f"{now.en} instead of exiting 0.",
           f"一个客户端连接后什么也没发送就关闭了；3 秒后服务器{now.zh}，而不是以 0 退出。")


@pytest.mark.check(points=2, lesson="4.4 note 3", program="server.py",
                   title="Run again at once, binds the port despite TIME_WAIT",
                   title_zh="立即再次运行时，即使有 TIME_WAIT 也能绑定端口")
def test_rebinds_after_time_wait(run_program, connect, free_port):
    first = Exchange(run_program, connect, free_port)
    now = status(first.server, detail=False)
    expect(not first.server.running(),
           f"the first run served its client but did not exit (it {now.en}), so it could not "
           f"be started again on the same port (see the exit check).",
           f"第一次运行服务完客户端后没有退出（它{now.zh}），所以无法在同一端口上再次启动"
           f"（见退出那一项）。")
    first.connection.close()
    expect_restart_listens(run_program, PROGRAM, free_port)


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Listens on every address: bind((\"\", port))",
                   title_zh="在所有地址上监听：bind((\"\", port))")
def test_listens_on_all_addresses(run_program, free_port):
    start_server(run_program, PROGRAM, free_port)
    rows = kernel.rows_on_port(free_port, kernel.TcpState.LISTEN)
    where = ", ".join(sorted({row.local[0] for row in rows})) or "?"
    expect(any(row.local[0] in ALL_ADDRESSES for row in rows),
           f"your server listened on port {free_port} at {where} only (the kernel's LISTEN "
           f"row), so clients of the other addresses of the machine are refused. bind(('', "
           f"port)): the empty host is every address, 0.0.0.0 (lesson 4.3).",
           f"服务器只在 {where} 上监听端口 {free_port}（内核的 LISTEN 行），本机其他地址上的客户端"
           f"会被拒绝。请用 bind(('', port))：空主机名表示所有地址 0.0.0.0（第 4.3 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="server.py",
                   title="Without an argument, listens on port 7788",
                   title_zh="不给参数时在 7788 端口监听")
def test_default_port(default_port_network, run_program):
    start_on_default_port(run_program, PROGRAM, default_port_network)
