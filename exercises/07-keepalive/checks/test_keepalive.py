"""Checks of 07-keepalive: the echo server of 03 that also finds clients that vanish.

A vanished client (its machine lost power) is simulated by dropping its packets in a
network of the grader's own (``grader.netns``): nothing arrives from it any more, not even
a reset, and only the server's keepalive probes can find out.
"""

from __future__ import annotations

import signal

import pytest

from grader import events, kernel
from grader.kernel import TcpState, TimerKind
from grader.steps import (DISCONNECT_LINE, LOST_LINE, connect_or_fail, count_lines,
                          expect_clean_stop, expect_echo, start_server, wait_new_line,
                          wait_no_close_wait)
from grader.verdict import expect, fail
from grader.waiting import wait_until

PROGRAM = "keepalive_server.py"
KEEPALIVE_IDLE = 1.0
DETECTION_LIMIT = 6.0


def server_row(server, client_port: int) -> kernel.SocketRow | None:
    rows = [row for row in kernel.sockets_of(server.members()) if row.remote_port == client_port]
    return rows[0] if rows else None


@pytest.mark.check(points=2, lesson="4.4 keepalive", program="keepalive_server.py",
                   title="Keepalive armed on accepted sockets (1 s idle)",
                   title_zh="已接受的套接字开启了保活（空闲 1 秒）")
def test_keepalive_armed(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_echo(connection, b"are you there?")
    seen: list[kernel.SocketRow] = []

    def armed() -> bool:
        row = server_row(server, connection.local_port)
        if row is not None:
            seen.append(row)
        return row is not None and row.timer == TimerKind.KEEPALIVE \
            and row.timer_seconds <= KEEPALIVE_IDLE + 0.05

    if wait_until(armed, 2.0):
        return
    last = seen[-1] if seen else None
    if last is None:
        fail("the grader could not find your server's socket for its connection in the "
             "kernel's table.", "评分程序在内核套接字表里找不到服务器这条连接的套接字。")
    if last.timer == TimerKind.KEEPALIVE:
        fail(f"keepalive is on, but the kernel's table shows the first probe due in "
             f"{last.timer_seconds:.0f} s of idle time, not {KEEPALIVE_IDLE:.0f} s. Set "
             f"TCP_KEEPIDLE to 1 (and TCP_KEEPINTVL 1, TCP_KEEPCNT 3) on the accepted socket.",
             f"保活已开启，但内核表显示第一次探测要在空闲 {last.timer_seconds:.0f} 秒后才发出，"
             f"而不是 {KEEPALIVE_IDLE:.0f} 秒。请在已接受的套接字上把 TCP_KEEPIDLE 设为 1"
             f"（TCP_KEEPINTVL 1，TCP_KEEPCNT 3）。")
    fail(f"the connection sat idle for 2 s and the kernel's table showed no keepalive timer on "
         f"your server's socket ({last.describe()}, timer {last.timer.name}). Turn it on for "
         f"every accepted socket: setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1), then TCP_KEEPIDLE 1, "
         f"TCP_KEEPINTVL 1, TCP_KEEPCNT 3.",
         f"连接空闲了 2 秒，内核表中服务器的套接字上没有保活计时器（计时器 {last.timer.name}）。"
         f"请为每个已接受的套接字开启保活：setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)，再设置 "
         f"TCP_KEEPIDLE 1、TCP_KEEPINTVL 1、TCP_KEEPCNT 3。")


@pytest.mark.check(points=3, lesson="4.4 keepalive", program="keepalive_server.py",
                   title="Detects a client that vanished, within 6 s, and releases it",
                   title_zh="6 秒内发现消失的客户端并释放其套接字")
def test_detects_vanished_client(run_program, connect, network, free_port):
    server = start_server(run_program, PROGRAM, free_port, network)
    connection = connect_or_fail(connect, free_port, "client that will vanish", network)
    # The echo is acknowledged before the drop starts: with data in flight the
    # retransmission timer, not keepalive, would run.
    expect_echo(connection, b"goodbye, cruel world")
    before = count_lines(server, LOST_LINE)
    network.drop(connection.local_port)
    connection.log.add(events.Note, text="the client vanishes: from now on every packet to "
                                         "or from it is dropped")
    reported = wait_new_line(server, LOST_LINE, before, DETECTION_LIMIT)
    if not reported:
        crashed = not server.running()
        fail(f"the client vanished (from then on every packet to or from it was dropped, as "
             f"when its machine loses power); {DETECTION_LIMIT:.0f} s later your server had "
             f"printed no line containing 'lost', 'timed out' or '超时'"
             f"{' and had ended (' + server.exit_description() + ')' if crashed else ''}. "
             f"With keepalive (idle 1 s, interval 1 s, 3 probes) recv() fails with "
             f"ETIMEDOUT about 4 s after the client goes silent: catch it (TimeoutError / "
             f"OSError), report the lost client and close its socket.",
             f"客户端消失了（此后与它往来的所有数据包都被丢弃，就像它的机器断电一样）；"
             f"{DETECTION_LIMIT:.0f} 秒后服务器仍没有打印包含 'lost'、'timed out' 或“超时”的行"
             f"{'，并且已经结束（' + server.exit_description() + '）' if crashed else ''}。"
             f"开启保活（空闲 1 秒、间隔 1 秒、3 次探测）后，客户端沉默约 4 秒时 recv() 会以 "
             f"ETIMEDOUT 失败：请捕获它（TimeoutError / OSError），报告客户端已丢失并关闭其套接字。")
    released = wait_until(lambda: server_row(server, connection.local_port) is None, 1.0)
    expect(released,
           "your server reported the lost client but still holds its socket "
           f"({server_row(server, connection.local_port).describe() if not released and server_row(server, connection.local_port) else ''}). "
           "Close the socket of a connection found dead.",
           "服务器报告了客户端丢失，却仍持有它的套接字。发现连接已失效时请关闭该套接字。")
    expect(server.running() and not server.has_traceback(),
           f"after finding the lost client your server "
           f"{'printed a traceback' if server.has_traceback() else 'stopped'}; it should go on "
           f"serving.",
           "发现客户端丢失后，服务器" + ("打印了异常回溯" if server.has_traceback() else "停止了")
           + "；它应该继续服务。")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="keepalive_server.py",
                   title="Echoes and reports a normal disconnect",
                   title_zh="回显数据并报告正常断开")
def test_echoes_and_reports_disconnect(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    for message in (b"hello", "你好，保活".encode("utf-8")):
        expect_echo(connection, message)
    before = count_lines(server, DISCONNECT_LINE)
    connection.close()
    expect(wait_new_line(server, DISCONNECT_LINE, before, 1.0),
           "the client closed the connection normally; within 1 s your server printed no line "
           "containing 'disconnected' (or '断开'). A normal close (recv() returns b'') is not a "
           "lost client: report it as a disconnect (lesson 4.4, note 8).",
           "客户端正常关闭了连接；1 秒内服务器没有打印包含 'disconnected'（或“断开”）的行。"
           "正常关闭（recv() 返回 b''）不是丢失：请报告为断开（第 4.4 节第 8 点）。")
    left = wait_no_close_wait(server, 1.0)
    expect(not left, "after the client closed, your server's socket stayed in CLOSE_WAIT: "
                     "close it when recv() returns b''.",
           "客户端关闭后，服务器的套接字停留在 CLOSE_WAIT：recv() 返回 b'' 时请关闭它。")


@pytest.mark.check(points=1, lesson="4.4 note 7", program="keepalive_server.py",
                   title="Serves the next client", title_zh="继续服务下一个客户端")
def test_serves_next_client(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    first = connect_or_fail(connect, free_port, "first client")
    expect_echo(first, b"first")
    first.close()
    wait_until(lambda: not server.running(), 0.3)
    expect(server.running(),
           f"after the first client left your server stopped ({server.exit_description()}); "
           f"it should serve clients one after another, forever.",
           f"第一个客户端离开后服务器停止了（{server.exit_description()}）；它应一直依次服务客户端。")
    second = connect_or_fail(connect, free_port, "second client")
    expect_echo(second, b"second", who="second client", who_zh="第二个客户端")


@pytest.mark.check(points=1, lesson="4.4", program="keepalive_server.py",
                   title="Stops cleanly on SIGINT and SIGTERM",
                   title_zh="收到 SIGINT 和 SIGTERM 时干净地退出")
def test_stops_cleanly(run_program, connect, free_port):
    for signum in (signal.SIGINT, signal.SIGTERM):
        server = start_server(run_program, PROGRAM, free_port)
        connection = connect_or_fail(connect, free_port, "client")
        expect_echo(connection, b"x")
        connection.close()
        expect_clean_stop(server, PROGRAM, free_port, signum)
        server.kill_tree()
        wait_until(lambda: not kernel.rows_on_port(free_port, TcpState.LISTEN), 1.0)
