"""Steps that checks of several exercises share: start a server and see it listen, stop it
with a signal and judge how it ended, restart it on a port left in TIME_WAIT, look at a
program's sockets in the kernel's table, run a client against the grader's server.

Rule: a step observes and, where the contract is the same for every exercise (the
conventions of the course), judges with feedback that names the lesson point. Exercise-
specific judgement stays in the exercise's checks. The words of the feedback are built
from ``feedback``'s pieces, the same as the checks use; this module holds no wording
helpers of its own. Where a crash of the program is the likely cause of a failure, the
feedback leads with it (``fail_crash_first``): the exception, and where it was raised.
"""

from __future__ import annotations

import hashlib
import re
import signal
from typing import Callable

from ..language import Message
from . import containment, kernel, ports, procinfo, schedule
from .ports import DEFAULT_PORT
from .feedback import (NOTHING, YOUR_SERVER, arrival, crash_first, crash_of,
                       disconnect_lines_missing, exit_words, raised, seconds, sized, status)
from .kernel import TcpState
from .program import StudentProgram
from .verdict import expect, fail
from .waiting import wait_until

LISTEN_TIMEOUT = 5.0
STOP_TIMEOUT = 2.0
CONNECT_TIMEOUT = 5.0  # the ``connect`` fixture's


def quiet_machine() -> None:
    """From here until the check ends, no other check of the session runs: what follows
    measures CPU time or a deadline the program must meet on a quiet machine. Only a check
    marked ``alone=True`` calls it; until then it runs beside the others (``schedule``)."""
    schedule.quiet_machine(containment.members)


def squash(text: str) -> str:
    """Text without any white space: how printed replies are compared, whatever the layout."""
    return re.sub(r"\s+", "", text)


def start_server(run_program, program: str, port: int, network=None) -> StudentProgram:
    """Start a server on ``port`` and wait for its LISTEN row (never by connecting to it).

    With ``network`` (``grader.session.netns``) the server runs inside that network."""
    server = run_program(program, args=[str(port)], network=network)
    namespace_pid = network.namespace_pid if network else None
    if not kernel.wait_for_listen(port, LISTEN_TIMEOUT, server.running, namespace_pid):
        if not server.running():
            let_crash_show(server)
            ended = status(server)
            fail(f"{program} stopped before it listened on port {port}: it {ended.en}. A "
                 f"server takes its port from the first argument: python {program} {port} "
                 f"(lesson 4.3).",
                 f"{program} 在监听端口 {port} 之前就结束了：它{ended.zh}。服务器应从第一个命令行"
                 f"参数读取端口：python {program} {port}（第 4.3 节）。")
        fail(f"nothing listened on port {port} within {LISTEN_TIMEOUT:.0f} s after {program} "
             f"started (the kernel's socket table showed no LISTEN row). Did it bind the port "
             f"given as its first argument and call listen()? (lesson 4.3)",
             f"{program} 启动后 {LISTEN_TIMEOUT:.0f} 秒内，端口 {port} 上没有处于 LISTEN 状态的套接字。"
             f"是否绑定了第一个命令行参数给出的端口并调用了 listen()？（第 4.3 节）")
    return server


def sockets_in_state(program: StudentProgram, state: TcpState) -> list[kernel.SocketRow]:
    return [row for row in kernel.sockets_of(program.members()) if row.state == state]


def wait_no_close_wait(program: StudentProgram, timeout: float) -> list[kernel.SocketRow]:
    """Wait until no socket of the program is in CLOSE_WAIT; the rows still there at the end."""
    wait_until(lambda: not sockets_in_state(program, TcpState.CLOSE_WAIT), timeout)
    return sockets_in_state(program, TcpState.CLOSE_WAIT)


def connected_sockets(program: StudentProgram) -> list[kernel.SocketRow]:
    """The program's sockets but the listening ones: what a client left behind."""
    return [row for row in kernel.sockets_of(program.members()) if row.state != TcpState.LISTEN]


def descriptor_count(program: StudentProgram) -> int:
    """Open file descriptors of every process of the program (a leak shows here)."""
    return sum(procinfo.fd_count(pid) for pid in program.members())


def thread_count(program: StudentProgram) -> int:
    return sum(procinfo.thread_count(pid) for pid in program.members())


def wait_idle(program: StudentProgram, timeout: float = 1.0, calm_polls: int = 3) -> bool:
    """Wait until every thread of the program has been asleep for ``calm_polls`` polls in a
    row, as a server is when a person presses Ctrl-C, or until it has ended. True if it was
    (or ended); False at the deadline
    (the caller goes on anyway: a busy program is judged by what the signal then does).

    Why: CPython runs a Python-level signal handler in the main thread, between bytecodes. A
    signal that lands while the main thread is on its way into a blocking call (``accept()``,
    waiting for the GIL that a client thread still holds) is only handled when that call
    returns, that is at the next client: the server looks deaf to Ctrl-C through no fault of
    the student (measured: 2 to 3 in 100 for a thread-pool server signalled right after an
    echo). Signalled while every thread sleeps, the blocking call is interrupted at once."""
    pids = program.members()
    calm = 0

    def quiet() -> bool:
        nonlocal calm
        if not program.running():
            return True  # nothing left to wait for
        states = [state for pid in pids for state in procinfo.thread_states(pid)]
        calm = calm + 1 if states and all(state in "SDI" for state in states) else 0
        return calm >= calm_polls

    return bool(wait_until(quiet, timeout))


def let_crash_show(program: StudentProgram, timeout: float = 0.3) -> None:
    """Give a crash the moment it takes to show before the program's state is described:
    up to ``timeout`` for a traceback or the end; after a traceback, up to 0.5 s for the
    exit that usually follows it; after the end, up to 0.5 s for its last output (the
    traceback) to be read from its terminal."""
    wait_until(lambda: program.has_traceback() or not program.running(), timeout)
    if program.has_traceback():
        program.wait_exit(0.5)
    if not program.running():
        wait_until(program.finished, 0.5)


def fail_crash_first(program: StudentProgram | None, en: str, zh: str,
                     who: Message = YOUR_SERVER) -> None:
    """Fail with this feedback, led by the program's crash when it printed a traceback
    (``feedback.crash_first``); the crash first gets the moment it takes to show (a server
    that crashed on the grader's data closes the connection before its traceback is read)."""
    if program is None:
        fail(en, zh)
    let_crash_show(program)
    message = crash_first(program, en, zh, who)
    fail(message.en, message.zh)


def expect_crash_first(condition: object, program: StudentProgram | None, en: str, zh: str,
                       who: Message = YOUR_SERVER) -> None:
    """``verdict.expect``, with the feedback led by the program's crash when it printed a
    traceback (``fail_crash_first``)."""
    if not condition:
        fail_crash_first(program, en, zh, who)


def expect_clean_stop(server: StudentProgram, program: str, port: int,
                      signum: int = signal.SIGINT, while_what: str = "",
                      while_what_zh: str = "") -> None:
    """Stop a server with ``signum``: it must exit 0 within 2 s, without a traceback, and
    its listening socket must be gone (the conventions of the course)."""
    name = signal.Signals(signum).name
    # Settle first: a server that ends by itself after its last client is busy ending, not
    # asleep, so it is seen to have ended every time rather than only when it wins a race
    # with the signal. Up to 5 s, because a starved program can stay runnable that long.
    wait_idle(server, timeout=5.0)
    if not server.running():
        let_crash_show(server)
        ended = status(server)
        fail(f"{program} was no longer running when the grader wanted to stop it: it "
             f"{ended.en}. A server runs until it is stopped.",
             f"评分程序准备停止 {program} 时，它已经不在运行了：它{ended.zh}。"
             f"服务器应一直运行，直到被停止。")
    stopped = server.stop(signum, STOP_TIMEOUT)
    expect(stopped,
           f"after {name}{while_what} your server was still running {STOP_TIMEOUT:.0f} s later. "
           f"{name} must make it close the listening socket and exit.",
           f"收到 {name}{while_what_zh} 后 {STOP_TIMEOUT:.0f} 秒，服务器仍在运行。"
           f"收到 {name} 时应关闭监听套接字并退出。")
    if server.has_traceback():
        let_crash_show(server)
        crash = raised(crash_of(server))
        fail(f"on {name}{while_what} your server ended with a traceback: {crash.en}. Catch "
             f"KeyboardInterrupt (SIGINT) or handle SIGTERM, close the listening socket and "
             f"exit quietly.",
             f"收到 {name}{while_what_zh} 时服务器以异常回溯结束：{crash.zh}。请捕获 "
             f"KeyboardInterrupt（SIGINT）或处理 SIGTERM，关闭监听套接字后安静退出。")
    how = exit_words(server)
    expect(server.exit_status == 0,
           f"on {name}{while_what} your server ended with {how.en}, not exit status 0. Handle "
           f"the signal and exit normally.",
           f"收到 {name}{while_what_zh} 时服务器的结束方式是{how.zh}，而不是退出状态 0。"
           f"请处理该信号并正常退出。")
    leftover = wait_until(lambda: not kernel.is_listening(port), 5.0)
    expect(leftover,
           f"after your server stopped, port {port} was still in LISTEN state: some process "
           f"of it kept the listening socket open.",
           f"服务器停止后端口 {port} 仍处于 LISTEN 状态：它的某个进程仍持有监听套接字。")


def expect_clean_stops_with_a_client(serve, connect, program: str, first_port: int,
                                     talk) -> None:
    """SIGINT, then SIGTERM on a new run, each while a client that was just answered
    (``talk(connection, server)``) is still connected: both must stop the server cleanly.

    The SIGTERM run gets a port of its own: the SIGINT run, stopped with a client connected,
    closed first and left its side of that connection in TIME_WAIT on its port."""
    for signum, port in ((signal.SIGINT, first_port), (signal.SIGTERM, ports.unused_port())):
        server = serve(port)
        connection = connect_or_fail(connect, port, "connected client")
        talk(connection, server)
        expect_clean_stop(server, program, port, signum, " while a client was connected",
                          "（此时有客户端连接着）")
        server.kill_tree()
        connection.close()


EXIT_ZERO = Message("it should exit 0.", "应以状态 0 退出。")


def expect_exit_zero(program: StudentProgram, who: Message, before: Message = NOTHING,
                     why: Message = EXIT_ZERO) -> None:
    """A program that has done its job must have exited 0, without a traceback (the
    convention of the course: a non-zero status or a traceback says it failed)."""
    if program.exit_status == 0 and not program.has_traceback():
        return
    let_crash_show(program)
    now = status(program)
    fail(f"{before.en}{who.en} {now.en}; {why.en}", f"{before.zh}{who.zh}{now.zh}；{why.zh}")


def expect_restart_listens(run_program, program: str, port: int) -> StudentProgram:
    """Start the server again on ``port`` right after a run that closed first, whose side of
    the connection is in TIME_WAIT there: it must listen (SO_REUSEADDR, lesson 4.4, note 3)."""
    time_wait = wait_until(lambda: kernel.rows_on_port(port, TcpState.TIME_WAIT), 1.0)
    again = run_program(program, args=[str(port)])
    if kernel.wait_for_listen(port, LISTEN_TIMEOUT, again.running):
        return again
    when = Message("while the previous run's connection sat in TIME_WAIT",
                   "上一次运行留下的连接仍处于 TIME_WAIT 时") if time_wait else \
        Message("right after the previous run", "上一次运行刚结束时")
    let_crash_show(again)
    now = status(again)
    fail(f"started again on port {port} {when.en}, your server did not listen: it {now.en}. "
         f"Set SO_REUSEADDR on the listening socket before bind() (lesson 4.4, note 3).",
         f"{when.zh}在端口 {port} 上再次启动，服务器没有开始监听：它{now.zh}。"
         f"请在 bind() 之前给监听套接字设置 SO_REUSEADDR（第 4.4 节第 3 点）。")


# -- the echo protocol (exercises 03, 04 and 07) ----------------------------------------------

DISCONNECT_LINE = r"disconnected|断开"
LOST_LINE = r"lost|timed out|超时"


def count_lines(program: StudentProgram, pattern: str) -> int:
    """How many printed lines match ``pattern`` (a line with two keywords counts once)."""
    regex = re.compile(pattern, re.IGNORECASE)
    return sum(1 for line in program.printed.splitlines() if regex.search(line))


def wait_new_line(program: StudentProgram, pattern: str, seen_before: int, timeout: float) -> bool:
    """Wait until the program printed one more line matching ``pattern`` than before."""
    return bool(wait_until(lambda: count_lines(program, pattern) > seen_before, timeout))


def expect_disconnect_reported(server: StudentProgram, connections: list, limit: float,
                               hint: Message) -> None:
    """Close ``connections``: within ``limit`` seconds the server must print one more
    disconnect line for each (the convention of exercises 03, 04, 05 and 07)."""
    before = count_lines(server, DISCONNECT_LINE)
    for connection in connections:
        connection.close()
    wait_until(lambda: count_lines(server, DISCONNECT_LINE) >= before + len(connections), limit)
    printed = count_lines(server, DISCONNECT_LINE) - before
    if printed >= len(connections):
        return
    closed = Message("the client closed the connection", "客户端关闭了连接") \
        if len(connections) == 1 else \
        Message(f"{len(connections)} connected clients closed their connections",
                f"{len(connections)} 个已连接的客户端关闭了连接")
    missing = disconnect_lines_missing(printed, len(connections), limit)
    fail(f"{closed.en}; {missing.en}. {hint.en}", f"{closed.zh}；{missing.zh}。{hint.zh}")


def expect_echo(connection, data: bytes, timeout: float = 3.0, who: str = "the client",
                who_zh: str = "客户端", server: StudentProgram | None = None) -> None:
    """Send ``data`` and expect exactly the same bytes back. With ``server``, a crash of the
    server leads the feedback."""
    connection.send(data, timeout)
    reply = connection.read_exactly(len(data), timeout)
    if reply.data == data:
        return
    sent, got = sized(data), arrival(reply.data, data, reply.ending, timeout)
    fail_crash_first(
        server,
        f"{who} sent {sent.en} and expected them back; it {got.en}. An echo server sends "
        f"back every byte it receives, in order (lesson 4.4).",
        f"{who_zh}发送了 {sent.zh}，期望原样收回；结果{got.zh}。回显服务器应按顺序"
        f"原样发回收到的每个字节（第 4.4 节）。")


def expect_alive(server: StudentProgram, after: str, after_zh: str) -> None:
    """A server must go on serving after whatever one client did (lesson 4.4, notes 7, 8)."""
    let_crash_show(server, timeout=0)
    if server.running() and not server.has_traceback():
        return
    now = status(server)
    fail(f"after {after} your server {now.en}. A server serves clients forever: whatever one "
         f"client does, handle the end of its session (recv() returning b'', "
         f"ConnectionResetError) and serve the next one (lesson 4.4).",
         f"{after_zh}之后，服务器{now.zh}。服务器应一直服务：无论一个客户端做了什么，都要处理好"
         f"它的会话结束（recv() 返回 b''、ConnectionResetError），然后服务下一个客户端（第 4.4 节）。")


def connect_or_fail(connect, port: int, name: str | None = None, network=None):
    connection = connect(port, name=name, network=network)
    if connection is not None:
        return connection
    if network is None and kernel.is_listening(port):
        fail(f"your server was listening on port {port}, but the grader's connection was "
             f"refused or not answered within {CONNECT_TIMEOUT:.0f} s.",
             f"服务器在端口 {port} 上监听，但评分程序的连接被拒绝或 {CONNECT_TIMEOUT:.0f} 秒内无应答。")
    fail(f"the grader could not connect to your server on port {port} (refused or no answer "
         f"within {CONNECT_TIMEOUT:.0f} s).",
         f"评分程序无法连接到端口 {port} 上的服务器（被拒绝或 {CONNECT_TIMEOUT:.0f} 秒内无应答）。")


# -- clients of the grader's server (exercises 01 and 06) ---------------------------------------

def expect_accepted(connection, program: StudentProgram, port: int, timeout: float,
                    third_question: Message, given: Message) -> None:
    """A client that was given the grader's address must have connected to it (lesson 4.2).
    The three questions are server IP, server port and ``third_question``; ``given`` says
    what the client had been given when the grader started waiting."""
    if connection is not None:
        return
    if program.unanswered_question:
        fail(f"your client asked more than three questions (server IP, server port, "
             f"{third_question.en}) and never connected. Ask exactly those, in that order.",
             f"客户端提了三个以上的问题（服务器 IP、端口、{third_question.zh}），并且没有连接。"
             f"请按顺序只询问这三项。")
    ended = NOTHING
    if not program.running():
        let_crash_show(program)
        now = status(program)
        ended = Message(f": it {now.en}", f"：它{now.zh}")
    fail(f"your client did not connect to 127.0.0.1 port {port} within {seconds(timeout)} s "
         f"after it was given {given.en}{ended.en}. Connect to the IP and port the user typed "
         f"(lesson 4.2: connect()).",
         f"给出{given.zh}后 {seconds(timeout)} 秒内，客户端没有连接到 127.0.0.1 的 {port} 端口"
         f"{ended.zh}。请连接用户输入的 IP 和端口（第 4.2 节：connect()）。")


def wait_printed(program: StudentProgram, text: str, timeout: float,
                 give_up: Callable[[], bool] = lambda: False, grace: float = 0.0) -> bool:
    """Wait until the program has printed ``text`` (white space aside), or it ended and all
    it printed was read, or ``give_up()``; then up to ``grace`` more for output still on its
    way. True if the text was printed."""
    def seen() -> bool:
        return squash(text) in squash(program.printed)

    wait_until(lambda: seen() or program.finished() or give_up(), timeout)
    if not seen() and grace:
        wait_until(seen, grace)
    return seen()


def first_event_at(connection, event_type: type) -> float | None:
    """When the connection's log first recorded an event of this type (seconds since the
    log began), or None."""
    found = connection.log.of_type(event_type)
    return found[0].at if found else None


# -- the upload protocol (exercise 06: the grader is the client's server and the server's client)

def upload_reply(data: bytes) -> bytes:
    """The reply to an upload: ``<byte count> <sha256 hex>\\n``."""
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode("ascii")


# -- added for issue #11 (exercises 03 and 04) ------------------------------------------------

def exchange_reading_late(connection, data: bytes, pause: float, timeout: float,
                          chunk: int = 65536, stall: float = 3.0):
    """Send ``data`` as fast as the program takes it, but read nothing for the first
    ``pause`` seconds, then read while sending: the program's sends meet a full socket
    buffer (a partial send() on a non-blocking socket). Returns what came back
    (``peers.Reception``), up to ``len(data)`` bytes, or what arrived by the deadline or
    when nothing moved either way for ``stall`` seconds once reading began."""
    import selectors
    import time
    started, offset, view = time.monotonic(), 0, memoryview(data)
    deadline_at, progress = started + timeout, (0, started)
    selector = selectors.DefaultSelector()
    try:
        selector.register(connection.sock, selectors.EVENT_WRITE)
        while len(connection.buffer) < len(data) and not connection.ended:
            now = time.monotonic()
            if now >= deadline_at:
                break
            reading = now - started >= pause
            moved = offset + connection.received
            if moved != progress[0]:
                progress = (moved, now)
            elif reading and now - progress[1] > stall:  # nothing moved either way: stuck
                break
            writing = offset < len(data)
            mask = (selectors.EVENT_READ if reading else 0) | \
                (selectors.EVENT_WRITE if writing else 0)
            if not mask:  # all sent, not reading yet: wait for the end of the pause
                time.sleep(max(0.0, min(pause - (now - started), 0.05)))
                continue
            selector.modify(connection.sock, mask)
            for _key, ready in selector.select(min(deadline_at - now, 0.1)):
                if ready & selectors.EVENT_READ:
                    connection._receive_once()
                if ready & selectors.EVENT_WRITE and writing:
                    offset += connection._send_chunk(view[offset:offset + chunk])
    finally:
        selector.close()
    return connection.read_exactly(len(data), 0) if len(connection.buffer) >= len(data) \
        else connection.read(0)


def unreaped_children(program: StudentProgram) -> list[int]:
    """Child processes of the program that ended and were never reaped (zombies)."""
    members = program.members()
    found = []
    for pid in procinfo.all_pids():
        parent = procinfo.parent_and_session(pid)
        if parent and parent[0] in members and procinfo.state(pid) in ("Z", "X"):
            found.append(pid)
    return found


# -- added for issue #11 (exercises 01 and 06: clients given another loopback address) --------

OTHER_LOOPBACK = "127.0.0.2"  # loopback too (127.0.0.0/8): catches a hard-coded 127.0.0.1


def listen_on(server, host: str):
    """Move a grader's ``peers.PeerServer`` (no connection accepted yet) to ``host``, on a
    port of its own there; returns the server. A client told ``host`` that connects to
    127.0.0.1 instead finds nothing listening."""
    import socket
    server.sock.close()
    server.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.sock.bind((host, 0))
    server.sock.listen(16)
    server.sock.setblocking(False)
    server.port = server.sock.getsockname()[1]
    return server


def expect_accepted_at(connection, program: StudentProgram, host: str, port: int,
                       timeout: float, who: Message) -> None:
    """A client given ``host`` and ``port`` must have connected there (lesson 4.2); when it
    crashed first, the feedback leads with the crash (where it was raised), not the address."""
    if connection is not None:
        return
    let_crash_show(program)
    ended = NOTHING if program.running() else \
        Message(f": it {status(program, detail=False).en}", f"：它{status(program, detail=False).zh}")
    other = host != "127.0.0.1"
    loopback = Message(" (an address of the loopback network 127.0.0.0/8, like 127.0.0.1)",
                       "（回环网络 127.0.0.0/8 的一个地址，与 127.0.0.1 一样）") if other else NOTHING
    if program.has_traceback():
        fail_crash_first(
            program,
            f"it crashed before it connected to {host} port {port}, the address the grader "
            f"typed: fix that error first (the exception and the line above).",
            f"它在连接评分程序输入的 {host} 的 {port} 端口之前就崩溃了：请先修正这个错误"
            f"（见上面的异常和行号）。", who)
    fail_crash_first(
        program,
        f"the grader listened on {host} port {port}{loopback.en} and typed that IP and port; "
        f"within {seconds(timeout)} s no connection arrived there{ended.en}. Connect to the IP "
        f"and the port the user typed (lesson 4.2: connect((ip, port))).",
        f"评分程序在 {host} 的 {port} 端口监听{loopback.zh}，并输入了这个 IP 和端口；"
        f"{seconds(timeout)} 秒内那里没有收到连接{ended.zh}。请连接用户输入的 IP 和端口"
        f"（第 4.2 节：connect((ip, port))）。",
        who)


def printed_after_answers(program: StudentProgram) -> str:
    """What the program printed after it read its last answer, found by position: the echo
    of each answer typed is looked for after the echo of the one before, in order, so a
    message that repeats an answer (``cannot connect to 127.0.0.1:9000``) is never cut."""
    output, position = program.output, 0
    for answer in program.answers_given:
        found = output.find(answer + "\n", position)
        if found >= 0:
            position = found + len(answer) + 1
    return output[position:]


def expect_error_exit(program: StudentProgram, timeout: float, situation: Message,
                      who: Message) -> None:
    """A client that cannot do its job (``situation``: "the connection was refused") must end
    within ``timeout`` with a message after its questions, a non-zero status and no
    traceback; when it crashed the feedback leads with the exception and where it was raised."""
    ended = program.wait_exit(timeout)
    let_crash_show(program)
    if program.has_traceback():
        fail_crash_first(program, f"when {situation.en}, it ended with a traceback. Catch the "
                         f"error (OSError), print a message for the user and sys.exit(1).",
                         f"{situation.zh}时，程序以异常回溯结束。请捕获这个错误（OSError），"
                         f"给用户打印一条提示，然后 sys.exit(1)。", who)
    now = status(program)
    expect(ended, f"when {situation.en}, {who.en} {now.en} {seconds(timeout)} s later: it "
                  f"should print a message and exit at once.",
           f"{situation.zh}时，{who.zh}{seconds(timeout)} 秒后{now.zh}：应打印提示并立即退出。")
    expect(program.exit_status not in (0, None),
           f"when {situation.en}, {who.en} {now.en}. A program that failed should exit with a "
           f"non-zero status (sys.exit(1)) so that scripts can tell.",
           f"{situation.zh}时，{who.zh}{now.zh}。失败时应以非 0 状态退出（sys.exit(1)）。")
    expect(printed_after_answers(program).strip(),
           f"when {situation.en}, {who.en} printed nothing after its questions. Tell the user "
           f"what went wrong (for example: cannot connect to 127.0.0.1:PORT).",
           f"{situation.zh}时，{who.zh}在提问之后什么也没有打印。请告诉用户出了什么问题"
           f"（例如：无法连接到 127.0.0.1:端口）。")


def expect_echo_while_others(connection, data: bytes, server: StudentProgram, advice: Message,
                             who: str = "the client", who_zh: str = "客户端",
                             timeout: float = 3.0) -> None:
    """``expect_echo`` for a client that comes while the server holds (or held) other
    clients: when nothing came back and the server, still running, holds another client's
    connection, the feedback says the server is busy with that client (``advice``: what to
    do about it), not that it echoes wrongly. (Added for issue #11, exercises 03 and 04.)"""
    connection.send(data, timeout)
    reply = connection.read_exactly(len(data), timeout)
    if reply.data == data:
        return
    held = [row for row in connected_sockets(server)
            if row.remote_port != connection.local_port]
    if reply.data or reply.closed or not server.running() or server.has_traceback() or not held:
        sent, got = sized(data), arrival(reply.data, data, reply.ending, timeout)
        fail_crash_first(
            server,
            f"{who} sent {sent.en} and expected them back; it {got.en}. An echo server sends "
            f"back every byte it receives, in order (lesson 4.4).",
            f"{who_zh}发送了 {sent.zh}，期望原样收回；结果{got.zh}。回显服务器应按顺序"
            f"原样发回收到的每个字节（第 4.4 节）。")
    sent = sized(data)
    fail(f"{who} sent {sent.en} and got nothing back within {seconds(timeout)} s, while your "
         f"server, still running, held the connection of another client "
         f"({held[0].describe()}): it was still busy with that client and never served this "
         f"one. {advice.en}",
         f"{who_zh}发送了 {sent.zh}，{seconds(timeout)} 秒内什么也没收到；此时服务器仍在运行，"
         f"并且还持有另一个客户端的连接（{held[0].describe()}）：它仍在忙那个客户端，没有服务这一个。"
         f"{advice.zh}")


def accept_while_running(server, program: StudentProgram, timeout: float):
    """``server.accept(timeout)`` that gives up once the program has ended without
    connecting (a client that connected elsewhere and was refused ends at once)."""
    from .waiting import Deadline
    deadline = Deadline(timeout)
    while True:
        connection = server.accept(min(0.1, max(deadline.left(), 0.0)))
        if connection is not None or deadline.expired():
            return connection
        if not program.running():
            return server.accept(0)



def start_on_default_port(run_program, program: str, network) -> StudentProgram:
    """Start a server with no argument where the default port is surely free (the
    ``default_port_network`` fixture: the grader's own network namespace, or this machine's
    loopback held for the check), and wait for its LISTEN row on ``DEFAULT_PORT``."""
    server = run_program(program, network=network)
    if not kernel.wait_for_listen(DEFAULT_PORT, LISTEN_TIMEOUT, server.running,
                                  network.namespace_pid if network else None):
        let_crash_show(server)
        now = status(server)
        fail_crash_first(
            server,
            f"started without an argument (python {program}), your server did not listen on "
            f"port {DEFAULT_PORT} within {LISTEN_TIMEOUT:.0f} s: it {now.en}. Without an "
            f"argument the port is {DEFAULT_PORT}: int(sys.argv[1]) if len(sys.argv) > 1 else "
            f"{DEFAULT_PORT} (lesson 4.3).",
            f"不带参数启动（python {program}）时，服务器 {LISTEN_TIMEOUT:.0f} 秒内没有在端口 "
            f"{DEFAULT_PORT} 上监听：它{now.zh}。没有参数时端口是 {DEFAULT_PORT}：int(sys.argv[1]) "
            f"if len(sys.argv) > 1 else {DEFAULT_PORT}（第 4.3 节）。")
    return server


def restart_after_a_client(run_program, program: str, port: int, server: StudentProgram,
                           connection) -> StudentProgram:
    """Stop the server with SIGINT while ``connection`` is open, then start it again at
    once on the same port, with the first run's connection in TIME_WAIT: the run after."""
    server.stop(signal.SIGINT)
    server.kill_tree()  # whatever the stop did, the first run is over now
    connection.wait_closed(1.0)
    connection.close()
    return expect_restart_listens(run_program, program, port)


def expect_echo_to_slow_reader(server: StudentProgram, connection, data: bytes, pause: float,
                               timeout: float, stall: float) -> None:
    """Send ``data`` while reading nothing for ``pause`` seconds, then read the echo: the
    socket buffers fill, and a send() that takes only part loses the rest unless the
    server sends it again (sendall, or the unsent bytes kept for later)."""
    reply = exchange_reading_late(connection, data, pause, timeout, stall=stall)
    if reply.data == data:
        return
    got = arrival(reply.data, data, reply.ending, stall)
    size = f"{len(data) // 2 ** 20} MiB"
    fail_crash_first(
        server,
        f"the grader sent {size} ({len(data)} bytes) and read nothing for the first "
        f"{pause:.0f} s, then read the echo; it {got.en}. While a client does not read, the "
        f"socket buffers fill up and send() takes only part of the data (or raises "
        f"BlockingIOError on a non-blocking socket): what it did not take is lost unless you "
        f"send the rest. Use sendall(), or keep the unsent bytes and send them when the "
        f"socket is writable again (lesson 4.4).",
        f"评分程序发送了 {size}（{len(data)} 个字节），前 {pause:.0f} 秒什么也不读，然后才读取"
        f"回显；结果{got.zh}。客户端不读时，套接字缓冲区会被填满，send() 只发出一部分（非阻塞套接字"
        f"会抛出 BlockingIOError）：没发出的部分如果不再发送就丢了。请用 sendall()，或者保存未发送的"
        f"字节，等套接字可写时再发（第 4.4 节）。")
