"""Checks of 04-concurrent-server (lesson 4.4): the echo protocol of 03, but the grader is
many clients of the student's concurrent_server.py at the same time."""

from __future__ import annotations

import random
import time

import pytest

from grader.language import Message
from grader.session import kernel, peers
from grader.session.events import preview
from grader.session.feedback import (DISCONNECT_HINT, THE_CLIENT, YOUR_SERVER, arrival,
                                     crash_of, in_close_wait, raised, status)
from grader.session.steps import (DEFAULT_PORT, DISCONNECT_LINE, connect_or_fail,
                                 connected_sockets, count_lines, descriptor_count,
                                 expect_clean_stops_with_a_client,
                                 expect_disconnect_reported, expect_echo,
                                 expect_echo_to_slow_reader, expect_echo_while_others,
                                 fail_crash_first, let_crash_show, quiet_machine,
                                 restart_after_a_client,
                                 start_on_default_port, start_server, thread_count,
                                 unreaped_children, wait_no_close_wait)
from grader.session.verdict import expect, fail
from grader.session.waiting import Deadline, wait_until

PROGRAM = "concurrent_server.py"
CLIENTS_AT_ONCE = 20
ECHO_DEADLINE = 5.0          # for all 20 echoes together
SILENT_LIMIT = 2.0
CLIENTS_FOR_LEAK = 200
SETTLE_TIME = 3.0
FD_TOLERANCE = 3
# A thread pool keeps its idle workers (as many as were ever busy at once, which depends on
# timing); a thread per client that never ends shows as about 200.
THREAD_TOLERANCE = 16
CLIENTS_LEAVING = 3
DISCONNECT_LIMIT = 1.0
LARGE = random.Random(8).randbytes(8 * 1024 * 1024)
READ_PAUSE = 1.0
STALL = 3.0
LARGE_TIMEOUT = 20.0
CLIENTS_FOR_ZOMBIES = 5
QUIET_PAUSE = 1.5
BUSY_ADVICE = Message(
    "Serve clients at the same time: hand each accepted client to its own thread (or use "
    "selectors / asyncio) and go straight back to accept(); a client must never wait for "
    "another one (lesson 4.4).",
    "请同时服务多个客户端：把每个接受的客户端交给它自己的线程（或使用 selectors / asyncio），"
    "然后立即回到 accept()；一个客户端永远不应等待另一个客户端（第 4.4 节）。")


def serve(run_program, port: int):
    return start_server(run_program, PROGRAM, port)


def client_bytes(number: int) -> bytes:
    """What client ``number`` sends: its name, some Chinese, then random bytes (not text)."""
    head = f"client {number}: 你好，并发服务器！第 {number} 号客户端 | ".encode("utf-8")
    return head + random.Random(number).randbytes(100 + 37 * number)


def describe_reply(reply: peers.Reception, sent: bytes, waited: float,
                   others: dict[int, bytes]) -> Message:
    """What one client got back instead of its own bytes, as a predicate; the bytes of
    another client are named as such (the server mixed up its clients' sockets)."""
    for number, theirs in others.items():
        if reply.data and theirs != sent and reply.data[:12] == theirs[:12]:
            return Message(f"got the bytes of client {number} ({preview(reply.data[:20])}...)",
                           f"收到的是客户端 {number} 的数据（{preview(reply.data[:20])}...）")
    return arrival(reply.data, sent, reply.ending, waited)


def server_state(server) -> Message:
    """How the server is doing, once a crash has had the time to show; its exception is
    left out, because a crash leads the feedback (``fail_crash_first``)."""
    let_crash_show(server)
    return status(server, detail=False)


def wrong_replies(replies: dict[int, peers.Reception], payloads: dict[int, bytes],
                  shown: int = 6) -> Message:
    """What the first ``shown`` clients that did not get their own bytes got instead."""
    wrong = [number for number, reply in replies.items() if reply.data != payloads[number]]
    details = [describe_reply(replies[number], payloads[number], ECHO_DEADLINE, payloads)
               for number in wrong[:shown]]
    en = [f"client {number} {got.en}" for number, got in zip(wrong, details)]
    zh = [f"客户端 {number} {got.zh}" for number, got in zip(wrong, details)]
    if len(wrong) > shown:
        en.append(f"and {len(wrong) - shown} more")
        zh.append(f"另有 {len(wrong) - shown} 个")
    return Message("; ".join(en), "；".join(zh))


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
    served = sum(1 for number, reply in replies.items() if reply.data == payloads[number])
    if served == CLIENTS_AT_ONCE:
        return
    details = wrong_replies(replies, payloads)
    fail(f"{CLIENTS_AT_ONCE} clients connected at the same time and each sent its own bytes "
         f"(a few hundred bytes: its number, Chinese text, random bytes); within "
         f"{ECHO_DEADLINE:.0f} s only {served} of them got exactly their own bytes back: "
         f"{details.en}. A concurrent server serves every connected client at once (a thread "
         f"per client, selectors or asyncio); serving clients one at a time, or with a fixed "
         f"pool of fewer workers than clients, makes the others wait. Each client's socket must "
         f"get back only its own bytes (lesson 4.4).",
         f"{CLIENTS_AT_ONCE} 个客户端同时连接，各自发送自己的数据（几百个字节：编号、中文和随机字节）；"
         f"{ECHO_DEADLINE:.0f} 秒内只有 {served} 个客户端原样收回了自己的数据：{details.zh}。"
         f"并发服务器要同时服务所有已连接的客户端（每个客户端一个线程，或 selectors、asyncio）；"
         f"一次只服务一个客户端，或者用数量少于客户端的固定工作线程池，都会让其他客户端等待。"
         f"每个客户端的套接字只应收回它自己的数据（第 4.4 节）。")


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
                    who_zh="那个一直不发送的客户端终于发送时，它", server=server)
        return
    got, state = describe_reply(reply, data, SILENT_LIMIT, {}), server_state(server)
    fail_crash_first(
        server,
        f"a first client connected and sent nothing (it stayed connected, as a person who has "
        f"not typed yet); a second client connected after it and sent {len(data)} bytes "
        f"{preview(data)}; the second client {got.en}; your server {state.en}. Your server "
        f"is waiting for the silent client (a recv() in the accept loop, or clients served "
        f"one at a time). Hand each accepted client to its own thread (or use selectors / "
        f"asyncio) and go straight back to accept() (lesson 4.4).",
        f"第一个客户端连接后什么也不发送（保持连接，就像一个还没打字的人）；第二个客户端随后连接并发送了 "
        f"{len(data)} 个字节 {preview(data)}；第二个客户端{got.zh}；服务器{state.zh}。"
        f"服务器在等待那个不发送数据的客户端（在 accept 循环里调用了 recv()，或一次只服务一个客户端）。"
        f"请把每个接受的客户端交给它自己的线程（或使用 selectors / asyncio），然后立即回到 "
        f"accept()（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="One client's reset does not disturb the others",
                   title_zh="一个客户端重置连接不影响其他客户端")
def test_reset_does_not_disturb_others(run_program, connect, free_port):
    server = serve(run_program, free_port)
    first = connect_or_fail(connect, free_port, "client A")
    expect_echo(first, "A: 你好，我先来的".encode("utf-8"), who="client A", who_zh="客户端 A", server=server)
    rude = connect_or_fail(connect, free_port, "client B (resets)")
    expect_echo_while_others(rude, b"B: about to reset", server, BUSY_ADVICE, who="client B",
                             who_zh="客户端 B")
    before = count_lines(server, DISCONNECT_LINE)
    rude.reset()
    # Give a crash the time to show (or go on as soon as the server reports B's end).
    wait_until(lambda: not server.running() or server.has_traceback()
               or count_lines(server, DISCONNECT_LINE) > before, 1.0)
    expect_still_echoed_after_reset(first, server)
    newcomer = connect_or_fail(connect, free_port, "client C")
    expect_echo_while_others(newcomer, "C: 新来的 newcomer".encode("utf-8"), server, BUSY_ADVICE,
                             who="client C (after the reset)", who_zh="客户端 C（重置之后）")
    crash = raised(crash_of(server))
    expect(not server.has_traceback(),
           f"client B reset its connection (RST); your server went on serving, but printed a "
           f"traceback: {crash.en}. Catch ConnectionResetError (OSError) for that client and "
           f"end its session quietly: a program must never show a traceback on a path the "
           f"contract describes (lesson 4.4).",
           f"客户端 B 重置了连接（RST）；服务器继续服务，但打印了异常回溯：{crash.zh}。请为该客户端"
           f"捕获 ConnectionResetError（OSError），安静地结束它的会话：在约定描述的任何情况下，"
           f"程序都不应打印异常回溯（第 4.4 节）。")


def expect_still_echoed_after_reset(first: peers.PeerConnection, server) -> None:
    """Client A, connected all along, must still be echoed after client B's reset."""
    data = "A: 我还在这里 still here".encode("utf-8")
    first.send(data, timeout=3.0)
    reply = first.read_exactly(len(data), 3.0)
    if reply.data == data:
        return
    got, state = describe_reply(reply, data, 3.0, {}), server_state(server)
    fail_crash_first(
        server,
        f"client A was connected while client B connected, was echoed and then reset its "
        f"connection (RST: the server's recv() raises ConnectionResetError). Afterwards "
        f"client A sent {preview(data)} and {got.en}; your server {state.en}. One client's "
        f"reset must end only that client's session: catch ConnectionResetError (OSError) "
        f"where you recv() from that client, close its socket and carry on (lesson 4.4).",
        f"客户端 A 保持连接期间，客户端 B 连接、得到回显后重置了连接（RST：服务器的 recv() 会"
        f"抛出 ConnectionResetError）。之后客户端 A 发送了 {preview(data)}，结果{got.zh}；"
        f"服务器{state.zh}。一个客户端重置连接只应结束它自己的会话：在对这个客户端调用 recv() "
        f"的地方捕获 ConnectionResetError（OSError），关闭它的套接字后继续服务（第 4.4 节）。")


@pytest.mark.check(points=2, lesson="4.4", program="concurrent_server.py",
                   title="No descriptors or threads left behind by 200 clients",
                   title_zh="200 个客户端之后不残留文件描述符和线程")
def test_no_leak_over_200_clients(run_program, connect, free_port):
    server = serve(run_program, free_port)
    warm_up = connect_or_fail(connect, free_port, "warm-up client")
    expect_echo(warm_up, b"warm-up", who="the warm-up client", who_zh="预热客户端", server=server)
    warm_up.close()
    wait_until(lambda: not connected_sockets(server), 2.0)
    base_fds, base_threads = descriptor_count(server), thread_count(server)
    started = time.monotonic()
    for number in range(2, CLIENTS_FOR_LEAK + 2):
        expect_one_client_echoed(server, free_port, number)
    took = time.monotonic() - started

    def settled() -> bool:
        return descriptor_count(server) <= base_fds + FD_TOLERANCE \
            and thread_count(server) <= base_threads + THREAD_TOLERANCE

    if wait_until(settled, SETTLE_TIME):
        return
    fds_now, threads_now = descriptor_count(server), thread_count(server)
    fail(f"after a warm-up client your server had {base_fds} open file descriptors and "
         f"{base_threads} threads; {CLIENTS_FOR_LEAK} clients then came and went one after "
         f"another (in {took:.1f} s), and {SETTLE_TIME:.0f} s after the last one left it had "
         f"{fds_now} file descriptors and {threads_now} threads. Every client that leaves must "
         f"leave nothing behind: close its socket, and let its thread end (return from the "
         f"thread's function; do not wait for something that never comes) (lesson 4.4).",
         f"预热客户端之后，服务器有 {base_fds} 个打开的文件描述符和 {base_threads} 个线程；随后 "
         f"{CLIENTS_FOR_LEAK} 个客户端依次来去（用时 {took:.1f} 秒），最后一个离开 "
         f"{SETTLE_TIME:.0f} 秒后，服务器有 {fds_now} 个文件描述符和 {threads_now} 个线程。"
         f"客户端离开时不应留下任何东西：关闭它的套接字，并让它的线程结束（从线程函数返回，"
         f"不要等待永远不会发生的事）（第 4.4 节）。")


def expect_one_client_echoed(server, port: int, number: int) -> None:
    """Client ``number`` of the 200 that come one after another: connect, one echo, close.
    (Not through the ``connect`` fixture: it would keep 200 wire logs for the evidence.)"""
    connection = peers.connect(port, 5.0, log_name=f"client {number}")
    if connection is None:
        state = server_state(server)
        fail_crash_first(
            server,
            f"client {number} of {CLIENTS_FOR_LEAK + 1} (connecting one after another) "
            f"could not connect to port {port} (your server {state.en}).",
            f"依次连接的第 {number} 个客户端（共 {CLIENTS_FOR_LEAK + 1} 个）无法连接到端口 "
            f"{port}（服务器{state.zh}）。")
    try:
        data = f"client {number} 你好".encode("utf-8")
        connection.send(data, timeout=3.0)
        reply = connection.read_exactly(len(data), 3.0)
        if reply.data != data:
            got = describe_reply(reply, data, 3.0, {})
            fail(f"while {CLIENTS_FOR_LEAK} clients came and went one after another, client "
                 f"{number} sent {preview(data)} and {got.en}. Every client must be echoed "
                 f"(lesson 4.4).",
                 f"{CLIENTS_FOR_LEAK} 个客户端依次来去时，客户端 {number} 发送了 {preview(data)}，"
                 f"结果{got.zh}。每个客户端都应得到回显（第 4.4 节）。",
                 evidence="\n" + connection.log.render())
    finally:
        connection.close()


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Prints a disconnect line for each client that leaves",
                   title_zh="每个客户端离开时都打印断开提示", alone=True)
def test_reports_each_disconnect(run_program, connect, free_port):
    server = serve(run_program, free_port)
    clients = [connect_or_fail(connect, free_port, f"client {number}")
               for number in range(1, CLIENTS_LEAVING + 1)]
    for number, connection in enumerate(clients, 1):
        expect_echo_while_others(connection, f"client {number}: 再见 bye".encode("utf-8"), server,
                                 BUSY_ADVICE, who=f"client {number}", who_zh=f"客户端 {number}")
    quiet_machine()
    expect_disconnect_reported(server, clients, DISCONNECT_LIMIT, DISCONNECT_HINT)


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Stops cleanly on SIGINT and SIGTERM with a client connected",
                   title_zh="有客户端连接时，收到 SIGINT 和 SIGTERM 都能干净地退出")
def test_stops_cleanly(run_program, connect, free_port):
    expect_clean_stops_with_a_client(
        lambda port: serve(run_program, port), connect, PROGRAM, free_port,
        lambda connection, server: expect_echo(connection, "还在这里 still here".encode("utf-8"),
                                               server=server))


@pytest.mark.check(points=1, lesson="4.4 note 3", program="concurrent_server.py",
                   title="Restarted at once, binds its port despite TIME_WAIT",
                   title_zh="立即重启时，即使有 TIME_WAIT 也能绑定端口")
def test_restart_binds_port(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_echo(connection, b"ping", server=server)
    again = restart_after_a_client(run_program, PROGRAM, free_port, server, connection)
    after = connect_or_fail(connect, free_port, "client after the restart")
    expect_echo(after, b"ping", who="the client after the restart",
                who_zh="重启后的客户端", server=again)


@pytest.mark.check(points=1, lesson="4.4 note 9", program="concurrent_server.py",
                   title="Closes a client's socket when it leaves: no CLOSE_WAIT",
                   title_zh="客户端离开时关闭它的套接字：没有 CLOSE_WAIT")
def test_no_close_wait(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_echo(connection, b"ping", server=server)
    connection.close()
    left = wait_no_close_wait(server, 1.5)
    if not left:
        return
    stuck = in_close_wait(YOUR_SERVER, THE_CLIENT, left[0])
    fail(f"the only client closed, but 1.5 s later {stuck.en}. Call close() on the client's "
         f"socket as soon as recv() returns b'' (do not leave it to the garbage collector or "
         f"to the next accept()) (lesson 4.4, note 9; the four-way close of 4.5).",
         f"唯一的客户端已关闭，但 1.5 秒后{stuck.zh}。recv() 返回 b'' 时请立即对客户端套接字调用 "
         f"close()（不要留给垃圾回收或下一次 accept()）（第 4.4 节第 9 点；第 4.5 节四次挥手）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Leaves no zombie processes behind", title_zh="不留下僵尸进程")
def test_no_zombie_processes(run_program, connect, free_port):
    server = serve(run_program, free_port)
    for number in range(1, CLIENTS_FOR_ZOMBIES + 1):
        connection = connect_or_fail(connect, free_port, f"client {number}")
        expect_echo(connection, b"ping", who=f"client {number}", who_zh=f"客户端 {number}",
                    server=server)
        connection.close()
    if wait_until(lambda: not unreaped_children(server), 5.0):
        return
    zombies = len(unreaped_children(server))
    fail(f"{CLIENTS_FOR_ZOMBIES} clients came and went one after another; 5 s after the last "
         f"one left, {zombies} child process(es) of your server had ended but were never "
         f"reaped (zombies, state Z). A server that forks a child per client must collect "
         f"each one that ends: os.waitpid(-1, os.WNOHANG) in a loop, for example in a "
         f"SIGCHLD handler (lesson 4.4).",
         f"{CLIENTS_FOR_ZOMBIES} 个客户端依次来去；最后一个离开 5 秒后，服务器有 {zombies} 个子进程"
         f"已经结束却没有被回收（僵尸进程，状态 Z）。为每个客户端 fork 子进程的服务器必须回收每个结束"
         f"的子进程：例如在 SIGCHLD 处理函数里循环调用 os.waitpid(-1, os.WNOHANG)（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
                   title="Echoes 8 MiB to a client that reads late, complete and in order",
                   title_zh="向晚些才读取的客户端完整、按顺序回显 8 MiB")
def test_echoes_to_slow_reader(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client that reads late")
    expect_echo_to_slow_reader(server, connection, LARGE, READ_PAUSE, LARGE_TIMEOUT, STALL)


@pytest.mark.check(points=1, lesson="4.3", program="concurrent_server.py",
                   title="Listens on port 7788 when no port is given",
                   title_zh="没有给出端口时监听 7788 端口")
def test_default_port(default_port_network, run_program, connect):
    server = start_on_default_port(run_program, PROGRAM, default_port_network)
    connection = connect_or_fail(connect, DEFAULT_PORT, "client", default_port_network)
    expect_echo(connection, b"ping", server=server)


@pytest.mark.check(points=1, lesson="4.4", program="concurrent_server.py",
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
        f"session. Do not give client sockets a timeout that ends the session (lesson 4.4).",
        f"一个客户端得到回显后 {QUIET_PAUSE} 秒什么也没发送（仍然连着，就像一个人停下来没打字），"
        f"然后发送了 4 个字节 'pong'；结果{got.zh}。安静的客户端并没有离开：只有 recv() 返回 b''"
        f"（或出错）才结束它的会话。不要给客户端套接字设置会结束会话的超时（第 4.4 节）。")
