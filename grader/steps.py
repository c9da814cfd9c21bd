"""Steps that checks of several exercises share: start a server and see it listen, stop it
with a signal and judge how it ended, look at a program's sockets in the kernel's table.

Rule: a step observes and, where the contract is the same for every exercise (the
conventions of the course), judges with feedback that names the lesson point. Exercise-
specific judgement stays in the exercise's checks.
"""

from __future__ import annotations

import re
import signal

from . import kernel, procinfo
from .events import preview
from .kernel import TcpState
from .program import StudentProgram
from .verdict import expect, fail
from .waiting import wait_until

LISTEN_TIMEOUT = 5.0
STOP_TIMEOUT = 2.0


def squash(text: str) -> str:
    """Text without any white space: how printed replies are compared, whatever the layout."""
    return re.sub(r"\s+", "", text)


def start_server(run_program, program: str, port: int, network=None) -> StudentProgram:
    """Start a server on ``port`` and wait for its LISTEN row (never by connecting to it).

    With ``network`` (``grader.netns``) the server runs inside that network."""
    server = run_program(program, args=[str(port)], network=network)
    namespace_pid = network.namespace_pid if network else None
    if not kernel.wait_for_listen(port, LISTEN_TIMEOUT, server.running, namespace_pid):
        if not server.running():
            fail(f"{program} ended ({server.exit_description()}) before it listened on port "
                 f"{port}. A server takes its port from the first argument: "
                 f"python {program} {port} (lesson 4.3).",
                 f"{program} 在监听端口 {port} 之前就结束了（{server.exit_description()}）。"
                 f"服务器应从第一个命令行参数读取端口：python {program} {port}（第 4.3 节）。")
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


def wait_idle(program: StudentProgram, timeout: float = 1.0, calm_polls: int = 3) -> bool:
    """Wait until every thread of the program has been asleep for ``calm_polls`` polls in a
    row, as a server is when a person presses Ctrl-C. True if it was; False at the deadline
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
        states = [state for pid in pids for state in procinfo.thread_states(pid)]
        calm = calm + 1 if states and all(state in "SDI" for state in states) else 0
        return calm >= calm_polls

    return bool(wait_until(quiet, timeout))


def expect_clean_stop(server: StudentProgram, program: str, port: int,
                      signum: int = signal.SIGINT, while_what: str = "",
                      while_what_zh: str = "") -> None:
    """Stop a server with ``signum``: it must exit 0 within 2 s, without a traceback, and
    its listening socket must be gone (the conventions of the course)."""
    name = signal.Signals(signum).name
    expect(server.running(),
           f"{program} was no longer running when the grader wanted to stop it "
           f"({server.exit_description()}); a server runs until it is stopped.",
           f"评分程序准备停止 {program} 时，它已经不在运行了（{server.exit_description()}）；"
           f"服务器应一直运行，直到被停止。")
    wait_idle(server)
    stopped = server.stop(signum, STOP_TIMEOUT)
    expect(stopped,
           f"after {name}{while_what} your server was still running {STOP_TIMEOUT:.0f} s later. "
           f"{name} must make it close the listening socket and exit.",
           f"收到 {name}{while_what_zh} 后 {STOP_TIMEOUT:.0f} 秒，服务器仍在运行。"
           f"收到 {name} 时应关闭监听套接字并退出。")
    expect(not server.has_traceback(),
           f"on {name}{while_what} your server ended with a traceback. Catch KeyboardInterrupt "
           f"(SIGINT) or handle SIGTERM, close the listening socket and exit quietly.",
           f"收到 {name}{while_what_zh} 时服务器以异常回溯（Traceback）结束。请捕获 "
           f"KeyboardInterrupt（SIGINT）或处理 SIGTERM，关闭监听套接字后安静退出。")
    expect(server.exit_status == 0,
           f"on {name}{while_what} your server ended with {server.exit_description()}, not "
           f"exit status 0. Handle the signal and exit normally.",
           f"收到 {name}{while_what_zh} 时服务器的结束方式是 {server.exit_description()}，"
           f"而不是退出状态 0。请处理该信号并正常退出。")
    leftover = wait_until(lambda: not kernel.is_listening(port), 1.0)
    expect(leftover,
           f"after your server stopped, port {port} was still in LISTEN state: some process "
           f"of it kept the listening socket open.",
           f"服务器停止后端口 {port} 仍处于 LISTEN 状态：它的某个进程仍持有监听套接字。")


def expect_clean_stops_with_a_client(serve, connect, program: str, first_port: int,
                                     talk) -> None:
    """SIGINT, then SIGTERM on a new run, each while a client that was just answered
    (``talk(connection)``) is still connected: both must stop the server cleanly.

    The SIGTERM run gets a port of its own: the SIGINT run, stopped with a client connected,
    closed first and left its side of that connection in TIME_WAIT on its port."""
    for signum, port in ((signal.SIGINT, first_port), (signal.SIGTERM, kernel.unused_port())):
        server = serve(port)
        connection = connect_or_fail(connect, port, "connected client")
        talk(connection)
        expect_clean_stop(server, program, port, signum, " while a client was connected",
                          "（此时有客户端连接着）")
        server.kill_tree()
        connection.close()


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


def expect_echo(connection, data: bytes, timeout: float = 3.0, who: str = "the client",
                who_zh: str = "客户端") -> None:
    """Send ``data`` and expect exactly the same bytes back."""
    connection.send(data, timeout)
    reply = connection.read_exactly(len(data), timeout)
    if reply.data == data:
        return
    if reply.ending == "reset":
        what, what_zh = "the connection was reset", "连接被重置"
    elif reply.ending == "eof":
        what, what_zh = "the server closed the connection", "服务器关闭了连接"
    else:
        what, what_zh = f"nothing more came for {timeout:.0f} s", f"{timeout:.0f} 秒内没有收到更多数据"
    fail(f"{who} sent {len(data)} bytes {preview(data)} and expected them back; it got "
         f"{len(reply.data)} bytes {preview(reply.data)}, then {what}. An echo server sends "
         f"back every byte it receives, in order (lesson 4.4).",
         f"{who_zh}发送了 {len(data)} 个字节 {preview(data)}，期望原样收回；实际收到 "
         f"{len(reply.data)} 个字节 {preview(reply.data)}，然后{what_zh}。回显服务器应按顺序"
         f"原样发回收到的每个字节（第 4.4 节）。")


def expect_alive(server: StudentProgram, after: str, after_zh: str) -> None:
    """A server must go on serving after whatever one client did (lesson 4.4, notes 7, 8)."""
    traceback = server.has_traceback()
    if traceback:
        server.wait_exit(0.5)  # a traceback usually means the end: let the exit show
    running = server.running()
    expect(running and not traceback,
           f"after {after} your server {'printed a traceback and ' if traceback else ''}"
           f"{'stopped (' + server.exit_description() + ')' if not running else 'went on'}. "
           f"A server serves clients forever: whatever one client does, handle the end of its "
           f"session (recv() returning b'', ConnectionResetError) and serve the next one "
           f"(lesson 4.4).",
           f"{after_zh}之后，服务器{'打印了异常回溯并' if traceback else ''}"
           f"{'停止了（' + server.exit_description() + '）' if not running else '继续运行'}。"
           f"服务器应一直服务：无论一个客户端做了什么，都要处理好它的会话结束（recv() 返回 b''、"
           f"ConnectionResetError），然后服务下一个客户端（第 4.4 节）。")


def connect_or_fail(connect, port: int, name: str | None = None, network=None):
    connection = connect(port, name=name, network=network)
    expect(connection is not None,
           f"the grader could not connect to your server on port {port} (refused or no answer "
           f"within 5 s).",
           f"评分程序无法连接到端口 {port} 上的服务器（被拒绝或 5 秒内无应答）。")
    return connection
