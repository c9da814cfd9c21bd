"""Checks of 03-echo-server (lesson 4.4, notes 5 to 9): the grader is every client of the
student's echo_server.py, one after another."""

from __future__ import annotations

import random
import signal

import pytest

from grader.language import Message
from grader.session import kernel, peers, procinfo
from grader.session.feedback import (DISCONNECT_HINT, THE_CLIENT, YOUR_SERVER, arrival,
                                     in_close_wait)
from grader.session.steps import (DEFAULT_PORT, DISCONNECT_LINE, connect_or_fail,
                                 connected_sockets, count_lines, descriptor_count,
                                 expect_alive, expect_clean_stop,
                                 expect_disconnect_reported, expect_echo,
                                 expect_echo_to_slow_reader, expect_echo_while_others,
                                 fail_crash_first, quiet_machine, restart_after_a_client,
                                 start_on_default_port, start_server, wait_new_line,
                                 wait_no_close_wait)
from grader.session.verdict import expect, fail
from grader.session.waiting import stays_true, wait_until

PROGRAM = "echo_server.py"
MESSAGES = [b"hello", "你好，回显服务器".encode("utf-8"), b"two\nlines\n"]
MEBIBYTE = random.Random(4).randbytes(1024 * 1024)
ECHO_TIMEOUT = 20.0
IDLE_WINDOW = 1.0
IDLE_CPU_LIMIT = 0.2
CLIENTS_FOR_LEAK = 50
LARGE = random.Random(8).randbytes(8 * 1024 * 1024)
READ_PAUSE = 1.0
STALL = 3.0
OTHER_ADDRESS = "127.0.0.2"
QUIET_PAUSE = 1.5
BUSY_ADVICE = Message(
    "When recv() returns b'' (or raises ConnectionResetError) that client is gone: stop "
    "reading, close() its socket and go back to accept() (lesson 4.4, notes 8 and 9).",
    "recv() 返回 b''（或抛出 ConnectionResetError）时那个客户端已经走了：停止读取，close() 它的"
    "套接字，回到 accept()（第 4.4 节第 8、9 点）。")


def serve(run_program, free_port):
    return start_server(run_program, PROGRAM, free_port)


def one_client(server, connect, port: int, name: str, data: bytes = b"ping") -> None:
    """A well-behaved client: connect, one echo, close."""
    connection = connect_or_fail(connect, port, name)
    expect_echo_while_others(connection, data, server, BUSY_ADVICE, who=name, who_zh=name)
    connection.close()


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Echoes small messages (ASCII and Chinese)", title_zh="回显短消息（英文和中文）")
def test_echoes_small_messages(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    for message in MESSAGES:
        expect_echo(connection, message, server=server)


@pytest.mark.check(points=2, lesson="4.4", program="echo_server.py",
                   title="Echoes 1 MiB sent in many pieces, complete and in order",
                   title_zh="完整、按顺序回显分多段发送的 1 MiB 数据")
def test_echoes_one_mebibyte(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    reply = connection.exchange(MEBIBYTE, expect=len(MEBIBYTE), timeout=ECHO_TIMEOUT)
    if reply.data == MEBIBYTE:
        return
    got = arrival(reply.data, MEBIBYTE, reply.ending, ECHO_TIMEOUT)
    fail_crash_first(
        server,
        f"the grader sent 1 MiB ({len(MEBIBYTE)} bytes) in 16 KiB pieces while reading the "
        f"echo, and {got.en}. Echo every byte in a loop until recv() returns b'', and use "
        f"sendall() so that nothing is dropped when send() takes only part (lesson 4.4).",
        f"评分程序以 16 KiB 为一段发送 1 MiB（{len(MEBIBYTE)} 个字节）并同时读取回显，结果"
        f"{got.zh}。请循环 recv() 直到返回 b''，并用 sendall() 发送，避免 send() 只发出一部分"
        f"时丢数据（第 4.4 节）。")


# alone: a deadline of 1 s the program must meet on a quiet machine.
@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Prints a disconnect line within 1 s", title_zh="1 秒内打印断开提示",
                   alone=True)
def test_reports_disconnect(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_echo(connection, b"bye soon", server=server)
    quiet_machine()
    expect_disconnect_reported(server, [connection], 1.0, DISCONNECT_HINT)


@pytest.mark.check(points=1, lesson="4.4 note 9", program="echo_server.py",
                   title="Closes its side: no socket left in CLOSE_WAIT",
                   title_zh="关闭自己一端：没有套接字停留在 CLOSE_WAIT")
def test_no_close_wait(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(server, connect, free_port, "client")
    left = wait_no_close_wait(server, 1.5)
    if not left:
        return
    stuck = in_close_wait(YOUR_SERVER, THE_CLIENT, left[0])
    fail(f"the client closed, but 1.5 s later {stuck.en}. Call close() on the client's socket "
         f"when recv() returns b'' (lesson 4.4, note 9; the four-way close of 4.5).",
         f"客户端已关闭，但 1.5 秒后{stuck.zh}。recv() 返回 b'' 时请对客户端套接字调用 close()"
         f"（第 4.4 节第 9 点；第 4.5 节四次挥手）。")


@pytest.mark.check(points=1, lesson="4.4 note 7", program="echo_server.py",
                   title="Serves the next client after one closes", title_zh="一个客户端关闭后服务下一个")
def test_next_client_after_close(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(server, connect, free_port, "first client")
    expect_alive(server, "the first client closed", "第一个客户端关闭")
    one_client(server, connect, free_port, "second client")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Serves the next client after one that sent nothing",
                   title_zh="一个什么也没发送的客户端之后服务下一个")
def test_next_client_after_empty(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connect_or_fail(connect, free_port, "empty client").close()
    wait_until(lambda: not server.running(), 0.3)  # give a crash the time to show
    expect_alive(server, "a client connected and closed at once", "一个客户端连接后立即关闭")
    one_client(server, connect, free_port, "next client")


@pytest.mark.check(points=1, lesson="4.5", program="echo_server.py",
                   title="Serves the next client after one that reset the connection",
                   title_zh="一个重置连接的客户端之后服务下一个")
def test_next_client_after_reset(run_program, connect, free_port):
    server = serve(run_program, free_port)
    rude = connect_or_fail(connect, free_port, "client that resets")
    expect_echo(rude, b"about to reset", server=server)
    rude.send(b"x")  # leave unread data in flight, then abort with RST
    rude.reset()
    wait_until(lambda: not server.running() or server.has_traceback(), 0.5)
    expect_alive(server, "a client reset the connection (RST, ConnectionResetError)",
                 "一个客户端重置了连接（RST，ConnectionResetError）")
    one_client(server, connect, free_port, "next client")


# alone: it measures the server's CPU time, which other checks' programs would take from it.
@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Does not spin while idle", title_zh="空闲时不空转", alone=True)
def test_idle_without_spinning(run_program, connect, free_port):
    server = serve(run_program, free_port)
    before = count_lines(server, DISCONNECT_LINE)
    one_client(server, connect, free_port, "client")
    wait_new_line(server, DISCONNECT_LINE, before, 1.0)
    quiet_machine()
    pids = server.members()
    cpu_before = sum(procinfo.cpu_seconds(pid) for pid in pids)
    output_before = len(server.output)

    def cpu_used() -> float:
        return sum(procinfo.cpu_seconds(pid) for pid in pids) - cpu_before

    stays_true(lambda: cpu_used() < IDLE_CPU_LIMIT, IDLE_WINDOW)
    used = cpu_used()
    printed = len(server.output) - output_before
    expect(used < IDLE_CPU_LIMIT,
           f"with no client connected, your server used {used:.2f} s of CPU in "
           f"{IDLE_WINDOW:.0f} s (and printed {printed} more characters): it is spinning, most "
           f"likely looping on recv() that keeps returning b'' after the client closed. Leave "
           f"the loop when recv() returns b'' (lesson 4.4, note 8).",
           f"没有客户端连接时，服务器在 {IDLE_WINDOW:.0f} 秒内用了 {used:.2f} 秒 CPU"
           f"（又打印了 {printed} 个字符）：它在空转，很可能是客户端关闭后仍在循环调用返回 b'' "
           f"的 recv()。recv() 返回 b'' 时请跳出循环（第 4.4 节第 8 点）。")


@pytest.mark.check(points=1, lesson="4.4 note 9", program="echo_server.py",
                   title="No file descriptor leak over 50 clients",
                   title_zh="50 个客户端后没有文件描述符泄漏")
def test_no_fd_leak(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(server, connect, free_port, "warm-up client")
    wait_until(lambda: not connected_sockets(server), 1.0)
    baseline = descriptor_count(server)
    for number in range(CLIENTS_FOR_LEAK):
        connection = connect_or_fail(connect, free_port, f"client {number + 2}")
        expect_echo_while_others(connection, b"x", server, BUSY_ADVICE,
                                 who=f"client {number + 2}", who_zh=f"客户端 {number + 2}")
        connection.close()
    settled = wait_until(lambda: descriptor_count(server) <= baseline + 2, 5.0)
    now = descriptor_count(server)
    expect(settled,
           f"before {CLIENTS_FOR_LEAK} clients came and went your server had {baseline} open "
           f"file descriptors; 5 s after the last one left it had {now}. Each client's "
           f"socket must be closed when the client leaves (lesson 4.4, note 9).",
           f"{CLIENTS_FOR_LEAK} 个客户端来去之前，服务器打开了 {baseline} 个文件描述符；最后一个离开 "
           f"5 秒后变成了 {now} 个。客户端离开时必须关闭它的套接字（第 4.4 节第 9 点）。")


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly on SIGINT (Ctrl-C)", title_zh="收到 SIGINT（Ctrl-C）时干净地退出")
def test_stops_on_sigint(run_program, free_port):
    # Signalled in accept() before any client: a server that exits after its first client
    # already loses test_next_client_after_close, and would otherwise race the signal here.
    server = serve(run_program, free_port)
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGINT)


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly on SIGTERM", title_zh="收到 SIGTERM 时干净地退出")
def test_stops_on_sigterm(run_program, free_port):
    # Signalled in accept() before any client: a server that exits after its first client
    # already loses test_next_client_after_close, and would otherwise race the signal here.
    server = serve(run_program, free_port)
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGTERM)


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly while a client is connected",
                   title_zh="有客户端连接时也能干净地退出")
def test_stops_with_client_connected(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"still here", server=server)
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGINT,
                      " while a client was connected", "（此时有客户端连接着）")


@pytest.mark.check(points=1, lesson="4.4 note 3", program="echo_server.py",
                   title="Restarted at once, binds its port despite TIME_WAIT",
                   title_zh="立即重启时，即使有 TIME_WAIT 也能绑定端口")
def test_restart_binds_port(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"before the restart", server=server)
    again = restart_after_a_client(run_program, PROGRAM, free_port, server, connection)
    one_client(again, connect, free_port, "client after the restart")


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Echoes 8 MiB to a client that reads late, complete and in order",
                   title_zh="向晚些才读取的客户端完整、按顺序回显 8 MiB")
def test_echoes_to_slow_reader(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client that reads late")
    expect_echo_to_slow_reader(server, connection, LARGE, READ_PAUSE, ECHO_TIMEOUT, STALL)


@pytest.mark.check(points=1, lesson="4.5", program="echo_server.py",
                   title="Prints a disconnect line when a client resets",
                   title_zh="客户端重置连接时打印断开提示", alone=True)
def test_reports_disconnect_after_reset(run_program, connect, free_port):
    server = serve(run_program, free_port)
    rude = connect_or_fail(connect, free_port, "client that resets")
    expect_echo(rude, b"ping", server=server)
    quiet_machine()
    before = count_lines(server, DISCONNECT_LINE)
    rude.send(b"x")  # unread data in flight: the server's recv() raises ConnectionResetError
    rude.reset()
    if wait_new_line(server, DISCONNECT_LINE, before, 1.0):
        return
    fail_crash_first(
        server,
        "a client reset its connection (RST: the server's recv() raises "
        "ConnectionResetError); within 1 s your server printed no line containing "
        "'disconnected' (or '断开'). A reset is a disconnect too: catch the error, print the "
        "disconnect line and close that socket (lesson 4.4, note 8; RST: lesson 4.5).",
        "一个客户端重置了连接（RST：服务器的 recv() 会抛出 ConnectionResetError）；1 秒内服务器"
        "没有打印包含 'disconnected'（或“断开”）的行。重置也是断开：捕获这个异常，打印断开提示并"
        "关闭该套接字（第 4.4 节第 8 点；RST：第 4.5 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="echo_server.py",
                   title="Listens on port 7788 when no port is given",
                   title_zh="没有给出端口时监听 7788 端口")
def test_default_port(default_port_network, run_program, connect):
    server = start_on_default_port(run_program, PROGRAM, default_port_network)
    connection = connect_or_fail(connect, DEFAULT_PORT, "client", default_port_network)
    expect_echo(connection, b"ping", server=server)


@pytest.mark.check(points=1, lesson="4.3", program="echo_server.py",
                   title="Listens on every address, not only 127.0.0.1",
                   title_zh="在所有地址上监听，而不只是 127.0.0.1")
def test_listens_on_every_address(run_program, free_port):
    server = serve(run_program, free_port)
    connection = peers.connect(free_port, 3.0, log_name="client to 127.0.0.2", host=OTHER_ADDRESS)
    try:
        if connection is not None:
            expect_echo(connection, b"ping", who=f"a client of {OTHER_ADDRESS}",
                        who_zh=f"连接 {OTHER_ADDRESS} 的客户端", server=server)
            return
    finally:
        if connection is not None:
            connection.close()
    rows = kernel.rows_on_port(free_port, kernel.TcpState.LISTEN)
    where = rows[0].local[0] if rows else "?"
    fail_crash_first(
        server,
        f"a client connected to {OTHER_ADDRESS} port {free_port} (an address of this machine: "
        f"all of 127.0.0.0/8 is loopback) and was refused: your server listened on {where} "
        f"only. Bind the listening socket to every address of the machine: "
        f"bind((\"\", port)) (lesson 4.3).",
        f"一个客户端连接 {OTHER_ADDRESS} 的 {free_port} 端口（本机的地址：整个 127.0.0.0/8 都是回环"
        f"地址），被拒绝了：服务器只在 {where} 上监听。请把监听套接字绑定到本机的所有地址："
        f"bind((\"\", port))（第 4.3 节）。")


@pytest.mark.check(points=1, lesson="4.4 note 9", program="echo_server.py",
                   title="Keeps serving a client that pauses for more than a second",
                   title_zh="客户端停顿一秒多之后仍继续为它服务")
def test_keeps_a_quiet_client(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client that pauses")
    expect_echo(connection, b"ping", server=server)
    during = connection.read(QUIET_PAUSE)  # the pause; a close by the server shows at once
    if not during.closed and not during.data:
        connection.send(b"pong", 2.0)
        reply = connection.read_exactly(4, 3.0)
        if reply.data == b"pong":
            return
        during = reply
    got = arrival(during.data, b"pong", during.ending, QUIET_PAUSE)
    fail_crash_first(
        server,
        f"a client was echoed, then sent nothing for {QUIET_PAUSE} s (still connected, as a "
        f"person who stops typing for a moment), then sent 4 bytes 'pong'; it {got.en}. A "
        f"client that is quiet has not left: only recv() returning b'' (or an error) ends its "
        f"session. Do not give client sockets a timeout that ends the session (lesson 4.4, "
        f"note 9).",
        f"一个客户端得到回显后 {QUIET_PAUSE} 秒什么也没发送（仍然连着，就像一个人停下来没打字），"
        f"然后发送了 4 个字节 'pong'；结果{got.zh}。安静的客户端并没有离开：只有 recv() 返回 b''"
        f"（或出错）才结束它的会话。不要给客户端套接字设置会结束会话的超时（第 4.4 节第 9 点）。")
