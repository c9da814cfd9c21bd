"""Checks of 04-concurrent-server (lesson 4.4): the echo protocol of 03, but the grader is
many clients of the student's concurrent_server.py at the same time."""

from __future__ import annotations

import random
import time

import pytest

from grader import kernel, peers, procinfo
from grader.events import preview
from grader.kernel import TcpState
from grader.steps import (DISCONNECT_LINE, connect_or_fail, count_lines,
                          expect_clean_stops_with_a_client, expect_echo, start_server)
from grader.verdict import expect, fail
from grader.waiting import Deadline, wait_until

PROGRAM = "concurrent_server.py"
CLIENTS_AT_ONCE = 20
ECHO_DEADLINE = 5.0          # for all 20 echoes together
SILENT_LIMIT = 2.0
CLIENTS_FOR_LEAK = 200
SETTLE_TIME = 3.0
FD_TOLERANCE = 3
THREAD_TOLERANCE = 2
CLIENTS_LEAVING = 3
DISCONNECT_LIMIT = 1.0


def serve(run_program, port: int):
    return start_server(run_program, PROGRAM, port)


def client_bytes(number: int) -> bytes:
    """What client ``number`` sends: its name, some Chinese, then random bytes (not text)."""
    head = f"client {number}: 你好，并发服务器！第 {number} 号客户端 | ".encode("utf-8")
    return head + random.Random(number).randbytes(100 + 37 * number)


def ending_words(ending: str, waited: float) -> tuple[str, str]:
    if ending == "reset":
        return "then the connection was reset (RST)", "然后连接被重置（RST）"
    if ending == "eof":
        return "then the server closed the connection (FIN)", "然后服务器关闭了连接（FIN）"
    return (f"then nothing more came within {waited:.0f} s",
            f"然后 {waited:.0f} 秒内没有更多数据")


def describe_reply(reply: peers.Reception, sent: bytes, waited: float,
                   others: dict[int, bytes]) -> tuple[str, str]:
    """What one client got back instead of its own bytes, in both languages."""
    then, then_zh = ending_words(reply.ending, waited)
    data = reply.data
    if not data and reply.ending == "timeout":
        return f"got nothing back within {waited:.0f} s", f"在 {waited:.0f} 秒内什么也没收到"
    if not data:
        return f"got nothing back: {then[5:]}", f"什么也没收到：{then_zh[2:]}"
    for number, theirs in others.items():
        if theirs != sent and data[:12] == theirs[:12]:
            return (f"got the bytes of client {number} ({preview(data[:20])}...)",
                    f"收到的是客户端 {number} 的数据（{preview(data[:20])}...）")
    if sent.startswith(data):
        return (f"got only the first {len(data)} of its {len(sent)} bytes, {then}",
                f"只收回前 {len(data)} 个字节（共 {len(sent)} 个），{then_zh}")
    same = next((index for index, (a, b) in enumerate(zip(data, sent)) if a != b),
                min(len(data), len(sent)))
    return (f"got {len(data)} bytes that differ from what it sent from byte {same} on "
            f"({preview(data[same:same + 12])}), {then}",
            f"收到 {len(data)} 个字节，从第 {same} 个字节起与发送的不同"
            f"（{preview(data[same:same + 12])}），{then_zh}")


def server_state(server) -> tuple[str, str]:
    """How the server is doing, for feedback: crashed, traceback, or running."""
    if server.has_traceback():
        server.wait_exit(0.5)  # a traceback usually means the end: let the exit show
    if not server.running():
        tail = " after a traceback" if server.has_traceback() else ""
        tail_zh = "，之前打印了异常回溯" if server.has_traceback() else ""
        return (f"your server had ended ({server.exit_description()}{tail})",
                f"服务器已经结束（{server.exit_description()}{tail_zh}）")
    if server.has_traceback():
        return ("your server printed a traceback", "服务器打印了异常回溯")
    return ("your server was still running", "服务器仍在运行")


@pytest.mark.check(points=2, lesson="4.4", program="concurrent_server.py",
                   title="20 clients connected at once each get their own bytes back",
                   title_zh="同时连接的 20 个客户端各自收回自己的数据")
def test_twenty_clients_at_once(run_program, connect, free_port):
    serve(run_program, free_port)
    connections = [connect_or_fail(connect, free_port, f"client {number}")
                   for number in range(1, CLIENTS_AT_ONCE + 1)]
    payloads = {number: client_bytes(number) for number in range(1, CLIENTS_AT_ONCE + 1)}
    # Every client sends before any echo is awaited: the data is small enough to sit in the
    # socket buffers, so nothing can deadlock, and every client needs the server at once.
    for number, connection in enumerate(connections, 1):
        connection.send(payloads[number], timeout=2.0)
    deadline = Deadline(ECHO_DEADLINE)
    replies = {number: connection.read_exactly(len(payloads[number]), deadline.left())
               for number, connection in enumerate(connections, 1)}
    wrong = [number for number, reply in replies.items() if reply.data != payloads[number]]
    if not wrong:
        return
    served = CLIENTS_AT_ONCE - len(wrong)
    details, details_zh = [], []
    for number in wrong[:6]:
        en, zh = describe_reply(replies[number], payloads[number], ECHO_DEADLINE, payloads)
        details.append(f"client {number} {en}")
        details_zh.append(f"客户端 {number} {zh}")
    if len(wrong) > 6:
        details.append(f"and {len(wrong) - 6} more")
        details_zh.append(f"另有 {len(wrong) - 6} 个")
    fail(f"{CLIENTS_AT_ONCE} clients connected at the same time and each sent its own bytes "
         f"(a few hundred bytes: its number, Chinese text, random bytes); within "
         f"{ECHO_DEADLINE:.0f} s only {served} of them got exactly their own bytes back: " + "; ".join(details)
         + ". A concurrent server serves every connected client at once (a thread per "
         "client, selectors or asyncio); serving clients one at a time, or with a fixed pool "
         "of fewer workers than clients, makes the others wait. Each client's socket must "
         "get back only its own bytes (lesson 4.4).",
         f"{CLIENTS_AT_ONCE} 个客户端同时连接，各自发送自己的数据（几百个字节：编号、中文和随机字节）；"
         f"{ECHO_DEADLINE:.0f} 秒内只有 {served} 个客户端原样收回了自己的数据：" + "；".join(details_zh)
         + "。并发服务器要同时服务所有已连接的客户端（每个客户端一个线程，或 selectors、asyncio）；"
         "一次只服务一个客户端，或者用数量少于客户端的固定工作线程池，都会让其他客户端等待。"
         "每个客户端的套接字只应收回它自己的数据（第 4.4 节）。")


@pytest.mark.check(points=2, lesson="4.4", program="concurrent_server.py",
                   title="A silent client does not delay the others",
                   title_zh="一个不发送数据的客户端不会耽误其他客户端")
def test_silent_client_does_not_block(run_program, connect, free_port):
    server = serve(run_program, free_port)
    silent = connect_or_fail(connect, free_port, "silent client")
    # Let the server accept the silent client first (its socket shows up in the server's
    # descriptors), so the second client really comes after it.
    wait_until(lambda: any(row.remote_port == silent.local_port
                           for row in kernel.sockets_of(server.members())), SILENT_LIMIT)
    other = connect_or_fail(connect, free_port, "second client")
    data = "second client: 你好！我不用等前一个客户端吧？".encode("utf-8")
    other.send(data, timeout=SILENT_LIMIT)
    reply = other.read_exactly(len(data), SILENT_LIMIT)
    if reply.data == data:
        # The silent client was kept waiting, not dropped: when it speaks at last, it is served.
        expect_echo(silent, "silent client: 我终于开口了 at last".encode("utf-8"),
                    timeout=SILENT_LIMIT, who="the silent client, speaking at last",
                    who_zh="那个一直不发送的客户端终于发送时，它")
        return
    got, got_zh = describe_reply(reply, data, SILENT_LIMIT, {})
    state, state_zh = server_state(server)
    fail(f"a first client connected and sent nothing (it stayed connected, as a person who has "
         f"not typed yet); a second client connected after it and sent {len(data)} bytes "
         f"{preview(data)}; the second client {got}; {state}. Your server "
         f"is waiting for the silent client (a recv() in the accept loop, or clients served "
         f"one at a time). Hand each accepted client to its own thread (or use selectors / "
         f"asyncio) and go straight back to accept() (lesson 4.4).",
         f"第一个客户端连接后什么也不发送（保持连接，就像一个还没打字的人）；第二个客户端随后连接并发送了 "
         f"{len(data)} 个字节 {preview(data)}；第二个客户端{got_zh}；{state_zh}。"
         f"服务器在等待那个不发送数据的客户端（在 accept 循环里调用了 recv()，或一次只服务一个客户端）。"
         f"请把每个接受的客户端交给它自己的线程（或使用 selectors / asyncio），然后立即回到 "
         f"accept()（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="One client's reset does not disturb the others",
                   title_zh="一个客户端重置连接不影响其他客户端")
def test_reset_does_not_disturb_others(run_program, connect, free_port):
    server = serve(run_program, free_port)
    first = connect_or_fail(connect, free_port, "client A")
    expect_echo(first, "A: 你好，我先来的".encode("utf-8"), who="client A", who_zh="客户端 A")
    rude = connect_or_fail(connect, free_port, "client B (resets)")
    expect_echo(rude, b"B: about to reset", who="client B", who_zh="客户端 B")
    before = count_lines(server, DISCONNECT_LINE)
    rude.reset()
    # Give a crash the time to show (or go on as soon as the server reports B's end).
    wait_until(lambda: not server.running() or server.has_traceback()
               or count_lines(server, DISCONNECT_LINE) > before, 1.0)
    data = "A: 我还在这里 still here".encode("utf-8")
    first.send(data, timeout=3.0)
    reply = first.read_exactly(len(data), 3.0)
    if reply.data != data:
        got, got_zh = describe_reply(reply, data, 3.0, {})
        state, state_zh = server_state(server)
        fail(f"client A was connected while client B connected, was echoed and then reset its "
             f"connection (RST: the server's recv() raises ConnectionResetError). Afterwards "
             f"client A sent {preview(data)} and {got}; {state}. One client's reset must end "
             f"only that client's session: catch ConnectionResetError (OSError) where you "
             f"recv() from that client, close its socket and carry on (lesson 4.4).",
             f"客户端 A 保持连接期间，客户端 B 连接、得到回显后重置了连接（RST：服务器的 recv() 会"
             f"抛出 ConnectionResetError）。之后客户端 A 发送了 {preview(data)}，结果{got_zh}；"
             f"{state_zh}。一个客户端重置连接只应结束它自己的会话：在对这个客户端调用 recv() 的地方"
             f"捕获 ConnectionResetError（OSError），关闭它的套接字后继续服务（第 4.4 节）。")
    newcomer = connect_or_fail(connect, free_port, "client C")
    expect_echo(newcomer, "C: 新来的 newcomer".encode("utf-8"), who="client C (after the reset)",
                who_zh="客户端 C（重置之后）")
    expect(not server.has_traceback(),
           "client B reset its connection (RST); your server went on serving, but printed a "
           "traceback. Catch ConnectionResetError (OSError) for that client and end its session "
           "quietly: a program must never show a traceback on a path the contract describes "
           "(lesson 4.4).",
           "客户端 B 重置了连接（RST）；服务器继续服务，但打印了异常回溯。请为该客户端捕获 "
           "ConnectionResetError（OSError），安静地结束它的会话：在约定描述的任何情况下，程序都不应"
           "打印异常回溯（第 4.4 节）。")


@pytest.mark.check(points=2, lesson="4.4", program="concurrent_server.py",
                   title="No descriptors or threads left behind by 200 clients",
                   title_zh="200 个客户端之后不残留文件描述符和线程")
def test_no_leak_over_200_clients(run_program, connect, free_port):
    server = serve(run_program, free_port)
    warm_up = connect_or_fail(connect, free_port, "warm-up client")
    expect_echo(warm_up, b"warm-up", who="the warm-up client", who_zh="预热客户端")
    warm_up.close()

    def descriptors() -> int:
        return sum(procinfo.fd_count(pid) for pid in server.members())

    def threads() -> int:
        return sum(procinfo.thread_count(pid) for pid in server.members())

    def connected_sockets() -> list:
        return [row for row in kernel.sockets_of(server.members())
                if row.state != TcpState.LISTEN]

    wait_until(lambda: not connected_sockets(), 2.0)
    base_fds, base_threads = descriptors(), threads()
    started = time.monotonic()
    for number in range(2, CLIENTS_FOR_LEAK + 2):
        connection = peers.connect(free_port, 5.0, log_name=f"client {number}")
        if connection is None:
            state, state_zh = server_state(server)
            fail(f"client {number} of {CLIENTS_FOR_LEAK + 1} (connecting one after another) "
                 f"could not connect to port {free_port} ({state}).",
                 f"依次连接的第 {number} 个客户端（共 {CLIENTS_FOR_LEAK + 1} 个）无法连接到端口 "
                 f"{free_port}（{state_zh}）。")
        try:
            data = f"client {number} 你好".encode("utf-8")
            connection.send(data, timeout=3.0)
            reply = connection.read_exactly(len(data), 3.0)
            if reply.data != data:
                got, got_zh = describe_reply(reply, data, 3.0, {})
                fail(f"while {CLIENTS_FOR_LEAK} clients came and went one after another, client "
                     f"{number} sent {preview(data)} and {got}. Every client must be echoed "
                     f"(lesson 4.4).",
                     f"{CLIENTS_FOR_LEAK} 个客户端依次来去时，客户端 {number} 发送了 {preview(data)}，"
                     f"结果{got_zh}。每个客户端都应得到回显（第 4.4 节）。",
                     evidence="\n" + connection.log.render())
        finally:
            connection.close()
    took = time.monotonic() - started

    def settled() -> bool:
        return descriptors() <= base_fds + FD_TOLERANCE \
            and threads() <= base_threads + THREAD_TOLERANCE

    if wait_until(settled, SETTLE_TIME):
        return
    fds_now, threads_now = descriptors(), threads()
    fail(f"after a warm-up client your server had {base_fds} open file descriptors and "
         f"{base_threads} threads; {CLIENTS_FOR_LEAK} clients then came and went one after "
         f"another (in {took:.1f} s), and {SETTLE_TIME:.0f} s after the last one left it had "
         f"{fds_now} file descriptors and {threads_now} threads. Every client that leaves must "
         f"leave nothing behind: close its socket, and let its thread end (return from the "
         f"thread's function; do not wait for something that never comes) (lesson 4.4).",
         f"预热客户端之后，服务器有 {base_fds} 个打开的文件描述符和 {base_threads} 个线程；随后 "
         f"{CLIENTS_FOR_LEAK} 个客户端依次来去（用时 {took:.1f} 秒），最后一个离开 "
         f"{SETTLE_TIME:.0f} 秒后，服务器有 {fds_now} 个文件描述符和 {threads_now} 个线程。"
         f"客户端离开后不应留下任何东西：关闭它的套接字，并让它的线程结束（从线程函数返回，"
         f"不要等待永远不会发生的事）（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Prints a disconnect line for each client that leaves",
                   title_zh="每个客户端离开时都打印断开提示")
def test_reports_each_disconnect(run_program, connect, free_port):
    server = serve(run_program, free_port)
    clients = [connect_or_fail(connect, free_port, f"client {number}")
               for number in range(1, CLIENTS_LEAVING + 1)]
    for number, connection in enumerate(clients, 1):
        expect_echo(connection, f"client {number}: 再见 bye".encode("utf-8"),
                    who=f"client {number}", who_zh=f"客户端 {number}")
    before = count_lines(server, DISCONNECT_LINE)
    for connection in clients:
        connection.close()
    wait_until(lambda: count_lines(server, DISCONNECT_LINE) >= before + CLIENTS_LEAVING,
               DISCONNECT_LIMIT)
    printed = count_lines(server, DISCONNECT_LINE) - before
    expect(printed >= CLIENTS_LEAVING,
           f"{CLIENTS_LEAVING} connected clients closed their connections; within "
           f"{DISCONNECT_LIMIT:.0f} s your server printed {printed} new line(s) containing "
           f"'disconnected' (or '断开'), not {CLIENTS_LEAVING}. When a client's recv() returns "
           f"b'' that client has closed: print a line saying so, then close its socket "
           f"(lesson 4.4, note 8).",
           f"{CLIENTS_LEAVING} 个已连接的客户端关闭了连接；{DISCONNECT_LIMIT:.0f} 秒内服务器只打印了 "
           f"{printed} 行新的包含 'disconnected'（或“断开”）的提示，而不是 {CLIENTS_LEAVING} 行。"
           f"某个客户端的 recv() 返回 b'' 表示它已关闭：打印一行提示，然后关闭它的套接字"
           f"（第 4.4 节第 8 点）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Stops cleanly on SIGINT and SIGTERM with a client connected",
                   title_zh="有客户端连接时，收到 SIGINT 和 SIGTERM 都能干净地退出")
def test_stops_cleanly(run_program, connect, free_port):
    expect_clean_stops_with_a_client(
        lambda port: serve(run_program, port), connect, PROGRAM, free_port,
        lambda connection: expect_echo(connection, "还在这里 still here".encode("utf-8")))
