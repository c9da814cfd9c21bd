"""Checks of 03-echo-server (lesson 4.4, notes 5 to 9): the grader is every client of the
student's echo_server.py, one after another."""

from __future__ import annotations

import random
import signal

import pytest

from grader import kernel, procinfo
from grader.kernel import TcpState
from grader.steps import (DISCONNECT_LINE, connect_or_fail, count_lines, expect_alive,
                          expect_clean_stop, expect_echo, start_server, wait_new_line,
                          wait_no_close_wait)
from grader.verdict import expect, fail
from grader.waiting import stays_true, wait_until

PROGRAM = "echo_server.py"
MESSAGES = [b"hello", "你好，回显服务器".encode("utf-8"), b"two\nlines\n"]
MEBIBYTE = random.Random(4).randbytes(1024 * 1024)
IDLE_WINDOW = 1.0
IDLE_CPU_LIMIT = 0.2
CLIENTS_FOR_LEAK = 50


def serve(run_program, free_port):
    return start_server(run_program, PROGRAM, free_port)


def one_client(connect, port: int, name: str, data: bytes = b"ping") -> None:
    """A well-behaved client: connect, one echo, close."""
    connection = connect_or_fail(connect, port, name)
    expect_echo(connection, data, who=name, who_zh=name)
    connection.close()


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Echoes small messages (ASCII and Chinese)", title_zh="回显短消息（英文和中文）")
def test_echoes_small_messages(run_program, connect, free_port):
    serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    for message in MESSAGES:
        expect_echo(connection, message)


@pytest.mark.check(points=2, lesson="4.4", program="echo_server.py",
                   title="Echoes 1 MiB sent in many pieces, complete and in order",
                   title_zh="完整、按顺序回显分多段发送的 1 MiB 数据")
def test_echoes_one_mebibyte(run_program, connect, free_port):
    serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    reply = connection.exchange(MEBIBYTE, expect=len(MEBIBYTE), timeout=20.0)
    if reply.data == MEBIBYTE:
        return
    same = next((index for index, (a, b) in enumerate(zip(reply.data, MEBIBYTE)) if a != b),
                min(len(reply.data), len(MEBIBYTE)))
    fail(f"the grader sent 1 MiB ({len(MEBIBYTE)} bytes) in 16 KiB pieces while reading the echo; "
         f"{len(reply.data)} bytes came back, the first {same} of them right "
         f"({reply.ending}). Echo every byte in a loop until recv() returns b'', and use "
         f"sendall() so that nothing is dropped when send() takes only part (lesson 4.4).",
         f"评分程序以 16 KiB 为一段发送 1 MiB（{len(MEBIBYTE)} 个字节）并同时读取回显；收回 "
         f"{len(reply.data)} 个字节，其中前 {same} 个正确（{reply.ending}）。请循环 recv() 直到"
         f"返回 b''，并用 sendall() 发送，避免 send() 只发出一部分时丢数据（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Prints a disconnect line within 1 s", title_zh="1 秒内打印断开提示")
def test_reports_disconnect(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_echo(connection, b"bye soon")
    before = count_lines(server, DISCONNECT_LINE)
    connection.close()
    expect(wait_new_line(server, DISCONNECT_LINE, before, 1.0),
           "the client closed the connection; within 1 s your server printed no line containing "
           "'disconnected' (or '断开'). When recv() returns b'' the client has closed: say so, "
           "then close its socket (lesson 4.4, note 8).",
           "客户端关闭了连接；1 秒内服务器没有打印包含 'disconnected'（或“断开”）的行。"
           "recv() 返回 b'' 表示客户端已关闭：打印提示，然后关闭它的套接字（第 4.4 节第 8 点）。")


@pytest.mark.check(points=1, lesson="4.4 note 9", program="echo_server.py",
                   title="Closes its side: no socket left in CLOSE_WAIT",
                   title_zh="关闭自己一端：没有套接字停留在 CLOSE_WAIT")
def test_no_close_wait(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(connect, free_port, "client")
    left = wait_no_close_wait(server, 1.5)
    expect(not left,
           f"the client closed, but 1.5 s later your server still held its socket in CLOSE_WAIT "
           f"({left[0].describe() if left else ''}): the client's FIN arrived and the server "
           f"never closed its side. Call close() on the client's socket when recv() returns b'' "
           f"(lesson 4.4, note 9; the four-way close of 4.5).",
           f"客户端已关闭，但 1.5 秒后服务器的套接字仍停留在 CLOSE_WAIT：客户端的 FIN 已到达，"
           f"服务器却一直没有关闭自己一端。recv() 返回 b'' 时请对客户端套接字调用 close()"
           f"（第 4.4 节第 9 点；第 4.5 节四次挥手）。")


@pytest.mark.check(points=1, lesson="4.4 note 7", program="echo_server.py",
                   title="Serves the next client after one closes", title_zh="一个客户端关闭后服务下一个")
def test_next_client_after_close(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(connect, free_port, "first client")
    expect_alive(server, "the first client closed", "第一个客户端关闭")
    one_client(connect, free_port, "second client")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Serves the next client after one that sent nothing",
                   title_zh="一个什么也没发送的客户端之后服务下一个")
def test_next_client_after_empty(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connect_or_fail(connect, free_port, "empty client").close()
    wait_until(lambda: not server.running(), 0.3)  # give a crash the time to show
    expect_alive(server, "a client connected and closed at once", "一个客户端连接后立即关闭")
    one_client(connect, free_port, "next client")


@pytest.mark.check(points=1, lesson="4.5", program="echo_server.py",
                   title="Serves the next client after one that reset the connection",
                   title_zh="一个重置连接的客户端之后服务下一个")
def test_next_client_after_reset(run_program, connect, free_port):
    server = serve(run_program, free_port)
    rude = connect_or_fail(connect, free_port, "client that resets")
    expect_echo(rude, b"about to reset")
    rude.send(b"x")  # leave unread data in flight, then abort with RST
    rude.reset()
    wait_until(lambda: not server.running() or server.has_traceback(), 0.5)
    expect_alive(server, "a client reset the connection (RST, ConnectionResetError)",
                 "一个客户端重置了连接（RST，ConnectionResetError）")
    one_client(connect, free_port, "next client")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="echo_server.py",
                   title="Does not spin while idle", title_zh="空闲时不空转")
def test_idle_without_spinning(run_program, connect, free_port):
    server = serve(run_program, free_port)
    before = count_lines(server, DISCONNECT_LINE)
    one_client(connect, free_port, "client")
    wait_new_line(server, DISCONNECT_LINE, before, 1.0)
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
    one_client(connect, free_port, "warm-up client")

    def descriptors() -> int:
        return sum(procinfo.fd_count(pid) for pid in server.members())

    def connected_sockets() -> list:
        return [row for row in kernel.sockets_of(server.members())
                if row.state != TcpState.LISTEN]

    wait_until(lambda: not connected_sockets(), 1.0)
    baseline = descriptors()
    for number in range(CLIENTS_FOR_LEAK):
        connection = connect_or_fail(connect, free_port, f"client {number + 2}")
        expect_echo(connection, b"x")
        connection.close()
    settled = wait_until(lambda: descriptors() <= baseline + 2, 2.0)
    expect(settled,
           f"before {CLIENTS_FOR_LEAK} clients came and went your server had {baseline} open "
           f"file descriptors; 2 s after the last one left it had {descriptors()}. Each client's "
           f"socket must be closed when the client leaves (lesson 4.4, note 9).",
           f"{CLIENTS_FOR_LEAK} 个客户端来去之前，服务器打开了 {baseline} 个文件描述符；最后一个离开 "
           f"2 秒后变成了 {descriptors()} 个。客户端离开时必须关闭它的套接字（第 4.4 节第 9 点）。")


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly on SIGINT (Ctrl-C)", title_zh="收到 SIGINT（Ctrl-C）时干净地退出")
def test_stops_on_sigint(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(connect, free_port, "client")
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGINT)


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly on SIGTERM", title_zh="收到 SIGTERM 时干净地退出")
def test_stops_on_sigterm(run_program, connect, free_port):
    server = serve(run_program, free_port)
    one_client(connect, free_port, "client")
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGTERM)


@pytest.mark.check(points=1, lesson="4.4", program="echo_server.py",
                   title="Stops cleanly while a client is connected",
                   title_zh="有客户端连接时也能干净地退出")
def test_stops_with_client_connected(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"still here")
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGINT,
                      " while a client was connected", "（此时有客户端连接着）")


@pytest.mark.check(points=1, lesson="4.4 note 3", program="echo_server.py",
                   title="Restarted at once, binds its port despite TIME_WAIT",
                   title_zh="立即重启时，即使有 TIME_WAIT 也能绑定端口")
def test_restart_binds_port(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"before the restart")
    server.stop(signal.SIGINT)
    server.kill_tree()  # whatever the stop did, the first run is over now
    connection.wait_closed(1.0)
    connection.close()
    time_wait = wait_until(lambda: kernel.rows_on_port(free_port, TcpState.TIME_WAIT), 1.0)
    again = run_program(PROGRAM, args=[str(free_port)])
    if not kernel.wait_for_listen(free_port, 5.0, again.running):
        state = ("while the previous run's connection sat in TIME_WAIT" if time_wait
                 else "right after the previous run")
        fail(f"started again on port {free_port} {state}, your server did not listen "
             f"({again.exit_description()}). Set SO_REUSEADDR on the listening socket before "
             f"bind() (lesson 4.4, note 3).",
             f"上一次运行刚结束{'、其连接仍处于 TIME_WAIT 时' if time_wait else '时'}在端口 "
             f"{free_port} 上再次启动，服务器没有开始监听（{again.exit_description()}）。"
             f"请在 bind() 之前设置 SO_REUSEADDR（第 4.4 节第 3 点）。")
    one_client(connect, free_port, "client after the restart")
