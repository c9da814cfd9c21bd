"""Checks of 08-time-server: the grader is the client of the student's time_server.py,
which sends every client the current UTC time as one line, then closes the connection.

The example exercise of docs/writing-an-exercise.md: every rule of the statement is one
check below, each observes through the public fixtures and steps, and judges in both
languages.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import datetime, timezone

import pytest

from grader.language import Message
from grader.session.feedback import (RESET_CAUSES, RESET_NOT_FIN, ending, line_arrival,
                                     seconds, show_line, sized, status)
from grader.session.steps import (connect_or_fail, expect_alive, expect_clean_stop,
                                  expect_restart_listens, start_server)
from grader.session.verdict import expect, fail

PROGRAM = "time_server.py"
LINE_WAIT = 3.0  # for the line after connecting, and for the close after the line
# Before a restart, for the server's FIN: only once its side has closed first does its
# TIME_WAIT sit on its port. Generous, as a loaded machine (one CPU in a container) may be
# slow; a correct server closes at once, so this costs it nothing.
SERVER_FIN_WAIT = 5.0
TOLERANCE = 2.0  # seconds the time may be off, either way (the line has whole seconds)
CLIENTS = 3
TIME_LINE = re.compile(rb"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\n")
EXAMPLE = "2026-12-01 12:00:00\\n"


class TimeRequest:
    """One client of the time server: connect, send nothing, read one line."""

    def __init__(self, connect, port: int, name: str = "grader's client") -> None:
        self.connection = connect_or_fail(connect, port, name)
        self.before = time.time()
        self.line = self.connection.read_line(LINE_WAIT)
        self.after = time.time()

    @property
    def got_line(self) -> bool:
        return self.line.ending == "condition"

    def expect_line(self, who: str = "the grader's client", who_zh: str = "评分程序的客户端"
                    ) -> bytes:
        got = line_arrival(self.line, LINE_WAIT)
        expect(self.got_line,
               f"{who} connected and sent nothing; it {got.en}. A time server sends the time "
               f"as soon as it accepts a client, without waiting for a request, as one line "
               f"ending in '\\n' (lesson 4.3: accept(), then sendall()).",
               f"{who_zh}连接后什么也没有发送；结果{got.zh}。时间服务器在接受客户端后应立即发送时间，"
               f"不等待任何请求，作为以 '\\n' 结尾的一行（第 4.3 节：accept() 之后 sendall()）。")
        return self.line.data


def _utc_seconds(match: re.Match) -> float | None:
    try:
        moment = datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc)
    except ValueError:  # 2026-13-45 ...
        return None
    return moment.timestamp()


@pytest.mark.check(points=1, lesson="4.3", program="time_server.py",
                   title="Listens on the port within 5 s", title_zh="5 秒内在指定端口上监听")
def test_listens_within_5s(run_program, free_port):
    # Readiness is the LISTEN row in the kernel's socket table, never a probing connection;
    # start_server fails the check with feedback (both languages) when it does not come.
    start_server(run_program, PROGRAM, free_port)


@pytest.mark.check(points=1, lesson="4.3", program="time_server.py",
                   title="Sends one line without waiting for a request",
                   title_zh="不等待请求就发送一行")
def test_sends_line_without_waiting(run_program, connect, free_port):
    start_server(run_program, PROGRAM, free_port)
    TimeRequest(connect, free_port).expect_line()


@pytest.mark.check(points=2, lesson="4.3", program="time_server.py",
                   title="The line is the current UTC time, YYYY-MM-DD HH:MM:SS",
                   title_zh="这一行是当前的 UTC 时间，格式 YYYY-MM-DD HH:MM:SS")
def test_line_is_current_utc_time(run_program, connect, free_port):
    start_server(run_program, PROGRAM, free_port)
    request = TimeRequest(connect, free_port)
    line = request.expect_line()
    match = TIME_LINE.fullmatch(line)
    sent = _utc_seconds(match) if match else None
    expect(sent is not None,
           f"your server sent the line {show_line(line)}; it should be the date and time as "
           f"YYYY-MM-DD HH:MM:SS and nothing else, then '\\n', for example '{EXAMPLE}' "
           f"(time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())).",
           f"服务器发送的一行是 {show_line(line)}；它应当只包含 YYYY-MM-DD HH:MM:SS 格式的日期和"
           f"时间，然后是 '\\n'，例如 '{EXAMPLE}'"
           f"（time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())）。")
    # The line has whole seconds: it may be up to a second behind the moment it was made.
    early, late = request.before - 1 - TOLERANCE, request.after + TOLERANCE
    if early <= sent <= late:
        return
    off = sent - (request.before + request.after) / 2
    hours = round(off / 1800) / 2  # time zones are whole or half hours away from UTC
    if hours and abs(off - hours * 3600) <= TOLERANCE + 1:
        fail(f"your server sent {show_line(line)}: {abs(hours):g} hours "
             f"{'ahead of' if hours > 0 else 'behind'} UTC, the grader's clock. That is the "
             f"local time of a time zone; send UTC: time.gmtime() or "
             f"datetime.now(timezone.utc).",
             f"服务器发送的是 {show_line(line)}：比评分程序的 UTC 时间"
             f"{'快' if hours > 0 else '慢'} {abs(hours):g} 小时。这是某个时区的本地时间；"
             f"请发送 UTC 时间：time.gmtime() 或 datetime.now(timezone.utc)。")
    fail(f"your server sent {show_line(line)}, {abs(off):.0f} s "
         f"{'ahead of' if off > 0 else 'behind'} the grader's clock (UTC); it should be the "
         f"current time, within {seconds(TOLERANCE)} s.",
         f"服务器发送的是 {show_line(line)}，比评分程序的时钟（UTC）{'快' if off > 0 else '慢'}"
         f" {abs(off):.0f} 秒；它应当是当前时间，误差不超过 {seconds(TOLERANCE)} 秒。")


@pytest.mark.check(points=2, lesson="4.5", program="time_server.py",
                   title="Closes the connection after the line (FIN)",
                   title_zh="发送这一行后关闭连接（FIN）")
def test_closes_after_the_line(run_program, connect, free_port):
    start_server(run_program, PROGRAM, free_port)
    request = TimeRequest(connect, free_port)
    if request.line.closed:  # it closed at once: judged by how
        rest, kind = b"", request.line.ending
    else:
        after = request.connection.read_until_closed(LINE_WAIT)
        rest, kind = after.data, after.ending
    after = Message("after the line", "发送这一行之后") if request.got_line else \
        Message("after accepting the grader's client (it sent no line)",
                "接受评分程序的客户端之后（它没有发送这一行）")
    if kind == "reset":
        fail(f"{after.en} your server reset the connection ({RESET_NOT_FIN.en}). A reset can "
             f"throw away the line before the client reads it; close the client's socket "
             f"normally with close() (lesson 4.5, the four-way close). {RESET_CAUSES.en}",
             f"{after.zh}，服务器重置了连接（{RESET_NOT_FIN.zh}）。重置可能让客户端来不及读到这一行"
             f"就被丢弃；请用 close() 正常关闭客户端套接字（第 4.5 节，四次挥手）。{RESET_CAUSES.zh}")
    if rest:
        extra = sized(rest, more=True)
        fail(f"{after.en} your server sent {extra.en}. A time server sends one line, then "
             f"closes the connection.",
             f"{after.zh}，服务器又发送了{extra.zh}。时间服务器只发送一行，然后关闭连接。")
    words = ending(kind, LINE_WAIT)
    expect(kind == "eof",
           f"{after.en} your server did not close the connection: {words.en}, no FIN. Close "
           f"the client's socket once the line is sent: the client knows the answer is "
           f"complete when the server closes (lesson 4.3).",
           f"{after.zh}，服务器没有关闭连接：{words.zh}，没有 FIN。发送完这一行就关闭客户端"
           f"套接字：服务器关闭连接，客户端才知道回答已经完整（第 4.3 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="time_server.py",
                   title="Serves clients one after another",
                   title_zh="一个接一个地服务客户端")
def test_serves_clients_one_after_another(run_program, connect, free_port):
    server = start_server(run_program, PROGRAM, free_port)
    for number in range(1, CLIENTS + 1):
        if number > 1:
            expect_alive(server, f"serving client {number - 1}", f"服务完客户端 {number - 1}")
        connection = connect(free_port, name=f"client {number}")
        if connection is None:
            server.wait_exit(0.5)  # a server that ended after its last client says so
            expect_alive(server, f"serving client {number - 1}", f"服务完客户端 {number - 1}")
            connection = connect_or_fail(connect, free_port, f"client {number}")
        line = connection.read_line(LINE_WAIT)
        got = line_arrival(line, LINE_WAIT)
        expect(line.ending == "condition",
               f"client {number} of {CLIENTS}, one after another, {got.en}. Accept the next "
               f"client when one is done: a server serves clients until it is stopped "
               f"(lesson 4.4).",
               f"依次连接的 {CLIENTS} 个客户端中，客户端 {number} {got.zh}。服务完一个客户端就"
               f"接受下一个：服务器应一直服务，直到被停止（第 4.4 节）。")
        connection.close()


@pytest.mark.check(points=1, lesson="4.4", program="time_server.py",
                   title="Ctrl-C (SIGINT) and SIGTERM stop it cleanly",
                   title_zh="Ctrl-C（SIGINT）和 SIGTERM 能干净地停止它")
def test_stops_cleanly(run_program, connect, free_port):
    # SIGINT while it waits for its first client; then, on a new run, SIGTERM after it has
    # served one. Neither run leaves TIME_WAIT before the next binds: that is another check.
    server = start_server(run_program, PROGRAM, free_port)
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGINT)
    server = start_server(run_program, PROGRAM, free_port)
    TimeRequest(connect, free_port).connection.close()
    expect_clean_stop(server, PROGRAM, free_port, signal.SIGTERM,
                      " after serving a client", "（此时已服务过一个客户端）")


@pytest.mark.check(points=2, lesson="4.5", program="time_server.py",
                   title="Restarted at once, binds the port despite TIME_WAIT",
                   title_zh="立即重新启动时，即使有 TIME_WAIT 也能绑定端口")
def test_rebinds_after_time_wait(run_program, connect, free_port):
    # The server closes first, so its side of each connection waits in TIME_WAIT on its own
    # port (lesson 4.5): the restart needs SO_REUSEADDR.
    server = start_server(run_program, PROGRAM, free_port)
    request = TimeRequest(connect, free_port)
    request.connection.wait_closed(SERVER_FIN_WAIT)
    request.connection.close()
    if not server.stop(signal.SIGINT, 2.0):
        now = status(server)
        fail(f"the grader stopped your server with SIGINT to start it again, but it "
             f"{now.en} 2 s later, so the restart could not be tried (see the check of "
             f"Ctrl-C and SIGTERM).",
             f"评分程序用 SIGINT 停止服务器以便重新启动，但 2 秒后它{now.zh}，所以无法测试重新启动"
             f"（见 Ctrl-C 和 SIGTERM 那一项）。")
    expect_restart_listens(run_program, PROGRAM, free_port)
