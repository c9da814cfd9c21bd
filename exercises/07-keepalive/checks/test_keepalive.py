"""Checks of 07-keepalive: the echo server of 03 that also finds clients that vanish.

A vanished client (its machine lost power) is simulated by dropping its packets in a
network of the grader's own (``grader.session.netns``): nothing arrives from it any more, not even
a reset, and only the server's keepalive probes can find out.
"""

from __future__ import annotations

import signal

import pytest

from grader.language import Message
from grader.session import events, kernel
from grader.session.feedback import NOTHING, THE_CLIENT, YOUR_SERVER, in_close_wait, status
from grader.session.kernel import TcpState, TimerKind
from grader.session.steps import (DEFAULT_PORT, LOST_LINE, connect_or_fail, count_lines,
                                 descriptor_count, expect_alive, expect_clean_stop,
                                 expect_crash_first, expect_disconnect_reported,
                                 expect_echo, fail_crash_first, let_crash_show,
                                 restart_after_a_client, start_on_default_port,
                                 start_server, wait_idle, wait_new_line,
                                 wait_no_close_wait)
from grader.session.verdict import expect, fail
from grader.session.waiting import wait_until

PROGRAM = "keepalive_server.py"
KEEPALIVE_IDLE = 1.0
DETECTION_LIMIT = 6.0
NORMAL_CLOSE_HINT = Message(
    "A normal close (recv() returns b'') is not a lost client: report it as a disconnect "
    "(lesson 4.4, note 8).",
    "正常关闭（recv() 返回 b''）不是丢失：请报告为断开（第 4.4 节第 8 点）。")


def server_row(server, client_port: int) -> kernel.SocketRow | None:
    rows = [row for row in kernel.sockets_of(server.members()) if row.remote_port == client_port]
    return rows[0] if rows else None


@pytest.mark.check(points=2, lesson="4.4 keepalive", program="keepalive_server.py",
                   title="Keepalive armed on accepted sockets (1 s idle)",
                   title_zh="已接受的套接字开启了保活（空闲 1 秒）")
def test_keepalive_armed(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_echo(connection, b"are you there?", server=server)
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
    expect_echo(connection, b"goodbye, cruel world", server=server)
    before = count_lines(server, LOST_LINE)
    network.drop(connection.local_port)
    connection.log.add(events.Note, text="the client vanishes: from now on every packet to "
                                         "or from it is dropped")
    reported = wait_new_line(server, LOST_LINE, before, DETECTION_LIMIT)
    if not reported:
        fail_lost_client_not_reported(server, server_row(server, connection.local_port))
    released = wait_until(lambda: server_row(server, connection.local_port) is None, 5.0)
    held = server_row(server, connection.local_port)
    expect(released,
           f"your server reported the lost client but still holds its socket"
           f"{' (' + held.describe() + ')' if held else ''}. Close the socket of a connection "
           f"found dead.",
           "服务器报告了客户端丢失，却仍持有它的套接字。发现连接已失效时请关闭该套接字。")
    if not server.running() or server.has_traceback():
        let_crash_show(server)
        now = status(server)
        fail(f"after finding the lost client your server {now.en}; it should go on serving.",
             f"发现客户端丢失后，服务器{now.zh}；它应该继续服务。")


def probing_still(row: kernel.SocketRow | None) -> Message | None:
    """What the kernel's table said of a connection still there after the detection limit:
    which keepalive option kept it from being declared dead."""
    if row is None or row.timer != TimerKind.KEEPALIVE:
        return None
    if row.timer_seconds <= KEEPALIVE_IDLE + 0.05:
        return Message(
            f" The kernel was still sending keepalive probes 1 s apart {DETECTION_LIMIT:.0f} s "
            f"after the client vanished: it sends more than 3 unanswered probes. Set "
            f"TCP_KEEPCNT to 3.",
            f"客户端消失 {DETECTION_LIMIT:.0f} 秒后内核仍在每秒发送保活探测：它会发送超过 3 次"
            f"没有回应的探测。请把 TCP_KEEPCNT 设为 3。")
    return Message(
        f" The kernel's table showed the next keepalive probe due in {row.timer_seconds:.0f} s: "
        f"set TCP_KEEPIDLE and TCP_KEEPINTVL to 1.",
        f"内核表显示下一次保活探测要在 {row.timer_seconds:.0f} 秒后才发出：请把 TCP_KEEPIDLE 和 "
        f"TCP_KEEPINTVL 设为 1。")


def fail_lost_client_not_reported(server, row: kernel.SocketRow | None = None) -> None:
    """No line about the lost client came: say so, how the server ended if it did, and, if
    the connection was still alive in the kernel's table, which option kept it so."""
    let_crash_show(server)
    ended = NOTHING
    if not server.running():
        now = status(server, detail=False)  # a crash leads the feedback
        ended = Message(f", and it {now.en}", f"，并且它{now.zh}")
    lesson = probing_still(row) or Message(
        " With keepalive (idle 1 s, interval 1 s, 3 probes) recv() fails with ETIMEDOUT about "
        "4 s after the client goes silent: catch it (TimeoutError / OSError), report the lost "
        "client and close its socket.",
        "开启保活（空闲 1 秒、间隔 1 秒、3 次探测）后，客户端沉默约 4 秒时 recv() 会以 ETIMEDOUT "
        "失败：请捕获它（TimeoutError / OSError），报告客户端已丢失并关闭其套接字。")
    fail_crash_first(
        server,
        f"the client vanished (from then on every packet to or from it was dropped, as when "
        f"its machine loses power); {DETECTION_LIMIT:.0f} s later your server had printed no "
        f"line containing 'lost', 'timed out' or '超时'{ended.en}.{lesson.en}",
        f"客户端消失了（此后与它往来的所有数据包都被丢弃，就像它的机器断电一样）；"
        f"{DETECTION_LIMIT:.0f} 秒后服务器仍没有打印包含 'lost'、'timed out' 或“超时”的行"
        f"{ended.zh}。{lesson.zh}")


@pytest.mark.check(points=1, lesson="4.4 note 8", program="keepalive_server.py",
                   title="Echoes and reports a normal disconnect",
                   title_zh="回显数据并报告正常断开")
def test_echoes_and_reports_disconnect(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    for message in (b"hello", "你好，保活".encode("utf-8")):
        expect_echo(connection, message, server=server)
    expect_disconnect_reported(server, [connection], 1.0, NORMAL_CLOSE_HINT)
    left = wait_no_close_wait(server, 1.0)
    if left:
        stuck = in_close_wait(YOUR_SERVER, THE_CLIENT, left[0])
        fail(f"after the client closed, {stuck.en}. Close the client's socket when recv() "
             f"returns b''.",
             f"客户端关闭后，{stuck.zh}。recv() 返回 b'' 时请关闭客户端的套接字。")


@pytest.mark.check(points=1, lesson="4.4 note 7", program="keepalive_server.py",
                   title="Serves the next client", title_zh="继续服务下一个客户端")
def test_serves_next_client(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    first = connect_or_fail(connect, free_port, "first client")
    expect_echo(first, b"first", server=server)
    first.close()
    wait_until(lambda: not server.running(), 0.3)
    if not server.running():
        let_crash_show(server)
        now = status(server)
        fail(f"after the first client left your server stopped: it {now.en}. It should serve "
             f"clients one after another, forever.",
             f"第一个客户端离开后服务器停止了：它{now.zh}。它应一直依次服务客户端。")
    second = connect_or_fail(connect, free_port, "second client")
    expect_echo(second, b"second", who="second client", who_zh="第二个客户端", server=server)


@pytest.mark.check(points=1, lesson="4.4", program="keepalive_server.py",
                   title="Stops cleanly on SIGINT and SIGTERM",
                   title_zh="收到 SIGINT 和 SIGTERM 时干净地退出")
def test_stops_cleanly(run_program, connect, free_port):
    for signum in (signal.SIGINT, signal.SIGTERM):
        server = start_server(run_program, PROGRAM, free_port)
        connection = connect_or_fail(connect, free_port, "client")
        expect_echo(connection, b"x", server=server)
        connection.close()
        expect_clean_stop(server, PROGRAM, free_port, signum)
        server.kill_tree()
        wait_until(lambda: not kernel.rows_on_port(free_port, TcpState.LISTEN), 1.0)


@pytest.mark.check(points=1, lesson="4.4 keepalive", program="keepalive_server.py",
                   title="Closes the socket of a lost client (no descriptor left)",
                   title_zh="关闭丢失客户端的套接字（不留下文件描述符）")
def test_lost_client_socket_closed(run_program, connect, network, free_port):
    server = start_server(run_program, PROGRAM, free_port, network)
    wait_idle(server)
    before = descriptor_count(server)
    connection = connect_or_fail(connect, free_port, "client that will vanish", network)
    expect_echo(connection, b"soon gone", server=server)
    network.drop(connection.local_port)
    connection.log.add(events.Note, text="the client vanishes: every packet is dropped")
    # The kernel drops a connection found dead from its table; the descriptor stays open
    # until the program closes it.
    if not wait_until(lambda: server_row(server, connection.local_port) is None,
                      DETECTION_LIMIT):
        fail("the kernel had not found the vanished client's connection dead within "
             f"{DETECTION_LIMIT:.0f} s, so the grader could not see whether your server closes "
             "its socket (see the keepalive checks).",
             f"{DETECTION_LIMIT:.0f} 秒内内核还没有判定消失客户端的连接已失效，所以评分程序无法看到"
             "服务器是否关闭了它的套接字（见保活的检查项）。")
    closed = wait_until(lambda: descriptor_count(server) <= before, 5.0)
    now = descriptor_count(server)
    expect_crash_first(
        closed, server,
        f"your server had {before} file descriptors open before the client connected and "
        f"{now} after it reported the client lost: the dead connection's socket was not "
        f"closed (the kernel drops the connection from its table, but your descriptor stays "
        f"until close()). Close the socket when recv() raises TimeoutError.",
        f"客户端连接之前服务器打开了 {before} 个文件描述符，报告客户端丢失之后还有 {now} 个："
        f"失效连接的套接字没有关闭（内核会把连接从表中删掉，但文件描述符要等 close() 才释放）。"
        f"recv() 抛出 TimeoutError 时请关闭该套接字。")


QUIET_FOR = 6.0  # longer than keepalive takes to find a dead client (about 4 s)


@pytest.mark.check(points=1, lesson="4.4 keepalive", program="keepalive_server.py",
                   title="Keeps a client that is alive but quiet",
                   title_zh="保留活着但不说话的客户端")
def test_keeps_quiet_client(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "quiet client")
    expect_echo(connection, b"hello", server=server)
    end = connection.wait_closed(QUIET_FOR)  # the client stays quiet; its kernel answers probes
    if end.ending in ("eof", "reset"):
        how = "closed" if end.ending == "eof" else "reset"
        fail_crash_first(
            server,
            f"the client stayed connected and quiet (its kernel answered every keepalive probe) "
            f"and your server {how} the connection within {QUIET_FOR:.0f} s. A quiet client is "
            f"not a lost one: do not use settimeout() (or a timer of your own) to end sessions; "
            f"keepalive ends only connections whose peer does not answer at all.",
            f"客户端保持连接但不说话（它的内核回应了每一次保活探测），服务器却在 {QUIET_FOR:.0f} 秒内"
            f"{'关闭' if how == 'closed' else '重置'}了连接。不说话的客户端并没有丢失：不要用 "
            f"settimeout()（或自己的计时器）结束会话；保活只结束对方完全没有回应的连接。")
    expect_echo(connection, b"still here", server=server)


RESETS = (("right after connecting", "刚连接就", b"", False),
          ("while its data was being echoed", "在数据回显过程中", b"x" * 65536, False),
          ("after an echo", "在一次回显之后", b"echoed", True))


@pytest.mark.check(points=1, lesson="4.4", program="keepalive_server.py",
                   title="Serves the next client after clients that reset",
                   title_zh="客户端重置连接后继续服务下一个客户端")
def test_next_client_after_reset(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    for when, when_zh, data, read_echo in RESETS:
        rude = connect_or_fail(connect, free_port, "client that resets")
        if read_echo:
            expect_echo(rude, data, server=server)
        elif data:
            rude.send(data)
        rude.reset()
        let_crash_show(server)
        expect_alive(server, f"a client reset the connection (RST) {when}",
                     f"一个客户端{when_zh}重置了连接（RST）")
    following = connect_or_fail(connect, free_port, "next client")
    expect_echo(following, b"next", who="next client", who_zh="下一个客户端", server=server)


@pytest.mark.check(points=1, lesson="4.4 note 3", program="keepalive_server.py",
                   title="Restarted at once, binds its port despite TIME_WAIT",
                   title_zh="立即重启时，即使有 TIME_WAIT 也能绑定端口")
def test_restart_binds_port(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"before the restart", server=server)
    again = restart_after_a_client(run_program, PROGRAM, free_port, server, connection)
    following = connect_or_fail(connect, free_port, "client after the restart")
    expect_echo(following, b"again", server=again)




@pytest.mark.check(points=1, lesson="4.3", program="keepalive_server.py",
                   title="Listens on port 7788 when no port is given",
                   title_zh="未给出端口时监听 7788")
def test_default_port(default_port_network, run_program, connect):
    server = start_on_default_port(run_program, PROGRAM, default_port_network)
    connection = connect_or_fail(connect, DEFAULT_PORT, "client", default_port_network)
    expect_echo(connection, b"default", server=server)
