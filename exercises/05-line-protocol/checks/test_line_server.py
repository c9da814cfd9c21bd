"""Checks of 05-line-protocol (TCP is a byte stream): the grader is a client of the student's
line_server.py and cuts its requests where a byte stream may cut them: in one-byte pieces,
a hundred requests in one piece, a Chinese character split in two, a 64 KiB line.

The server may serve one client at a time, so no check here holds two sessions at once.
Answers are compared as exact lines: ``<text>\\n``."""

from __future__ import annotations

import socket

import pytest

from grader.language import Message
from grader.session import kernel
from grader.session.events import preview
from grader.session.feedback import (DISCONNECT_HINT, NOTHING, RESET_CAUSES, RESET_NOT_FIN,
                                     disconnect_lines_missing, first_difference, line_arrival,
                                     then)
from grader.session.kernel import TcpState
from grader.session.peers import PeerConnection, Reception
from grader.session.steps import (DEFAULT_PORT, DISCONNECT_LINE, connect_or_fail,
                                 count_lines, expect_alive,
                                 expect_clean_stops_with_a_client, expect_crash_first,
                                 expect_disconnect_reported, fail_crash_first,
                                 restart_after_a_client, start_on_default_port,
                                 start_server, wait_new_line)
from grader.session.verdict import expect, fail
from grader.session.waiting import wait_until

PROGRAM = "line_server.py"
ANSWER_TIMEOUT = 2.0
BYTE_PAUSE = 0.02
SPLIT_PAUSE = 0.2
NOTHING_MORE_WINDOW = 0.3
HUNDRED = 100
HUNDRED_TIMEOUT = 5.0
LONG_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
DISCONNECT_LIMIT = 1.0

STREAM_EN = "lesson 4.4: TCP is a byte stream, it keeps no message boundaries"
STREAM_ZH = "第 4.4 节：TCP 是字节流，不保留消息边界"

# 64 KiB of text in one word (no spaces): numbered pieces, so that a wrong answer shows where it went wrong.
LONG_TEXT = "".join(f"{index:07d}-" for index in range(8192))[:-1] + "."


# Where an observation ends and the lesson about it begins, in a message for ``fail_stream``.
LESSON = "\x1f"
NEWLINE_HINT = Message(
    "The text was right, but no '\\n' ended it: every answer is one line ending in '\\n', "
    "and a client that reads lines waits for that '\\n' (lesson 4.4).",
    "文本是对的，但末尾没有 '\\n'：每个应答都是以 '\\n' 结尾的一行，按行读取的客户端会一直等这个 "
    "'\\n'（第 4.4 节）。")


def fail_stream(server, data: bytes, expected: bytes, en: str, zh: str) -> None:
    """Fail with the observation, then its lesson; when the text came right but without its
    newline(s), the lesson is about the newline, not about buffering or decoding."""
    seen_en, _, lesson_en = en.partition(LESSON)
    seen_zh, _, lesson_zh = zh.partition(LESSON)
    if data and b"\n" not in data and expected.replace(b"\n", b"").startswith(data):
        lesson_en, lesson_zh = " " + NEWLINE_HINT.en, NEWLINE_HINT.zh
    fail_crash_first(server, seen_en + lesson_en, seen_zh + lesson_zh)


def serve(run_program, port: int):
    return start_server(run_program, PROGRAM, port)


def no_delay(connection: PeerConnection) -> PeerConnection:
    """Send small pieces at once (no Nagle), so that each piece is its own segment."""
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def line(text: str) -> bytes:
    return (text + "\n").encode("utf-8")


def ask(connection: PeerConnection, request: bytes, timeout: float = ANSWER_TIMEOUT
        ) -> Reception:
    connection.send(request, timeout)
    return connection.read_line(timeout)


def expect_answer(connection: PeerConnection, request: bytes, expected: bytes,
                  hint: str = "", hint_zh: str = "", timeout: float = ANSWER_TIMEOUT,
                  server=None) -> None:
    """Ask, and expect exactly the line ``expected``; with ``server``, a crash of the server
    leads the feedback."""
    answer = ask(connection, request, timeout)
    if answer.data == expected and answer.ending == "condition":
        return
    got = line_arrival(answer, timeout, expected)
    fail_crash_first(
        server,
        f"the grader sent {preview(request)}; the answer should be the line "
        f"{preview(expected)}, but it {got.en}. {hint}".rstrip(),
        f"评分程序发送了 {preview(request)}；应答应为这一行 {preview(expected)}，实际"
        f"{got.zh}。{hint_zh}".rstrip())


def lines_of(data: bytes) -> list[bytes]:
    """The complete lines in ``data`` (each with its ``\\n``), then the unfinished rest if any."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def show_lines(found: list[bytes], limit: int = 6) -> str:
    shown = ", ".join(preview(item) for item in found[:limit])
    return shown + (f" ... ({len(found) - limit} more)" if len(found) > limit else "")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Answers ECHO, UPPER and ADD", title_zh="应答 ECHO、UPPER 和 ADD")
def test_answers_commands(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    upper_hint = ("UPPER answers its text in upper case: text.upper() changes the letters a-z "
                  "and leaves Chinese as it is.")
    upper_hint_zh = "UPPER 应答大写的文本：text.upper() 只改变字母 a-z，中文保持不变。"
    add_hint = ("ADD answers the decimal sum of two integers, which may be negative: convert "
                "each with int() before adding (adding the strings joins them).")
    add_hint_zh = "ADD 应答两个整数（可以是负数）之和：先用 int() 转换再相加（字符串相加只会把它们拼接起来）。"
    cases = [
        ("ECHO hello, line server", "hello, line server", "", ""),
        ("ECHO 你好，世界！", "你好，世界！", "", ""),
        ("UPPER hello world", "HELLO WORLD", upper_hint, upper_hint_zh),
        ("UPPER 你好 abc, Hello 世界!", "你好 ABC, HELLO 世界!", upper_hint, upper_hint_zh),
        ("ADD 2 40", "42", add_hint, add_hint_zh),
        ("ADD -7 3", "-4", add_hint, add_hint_zh),
        ("ADD -15 -27", "-42", add_hint, add_hint_zh),
    ]
    for request, expected, hint, hint_zh in cases:
        expect_answer(connection, line(request), line(expected),
                      (hint + " " if hint else "") + "Every answer is one line ending in "
                      "'\\n' (lesson 4.4).",
                      (hint_zh if hint_zh else "") + "每个应答都是以 '\\n' 结尾的一行（第 4.4 节）。", server=server)


@pytest.mark.check(points=2, lesson="4.4", program="line_server.py",
                   title="A request sent in one-byte pieces is answered once",
                   title_zh="逐字节分段发送的请求只应答一次")
def test_request_in_one_byte_pieces(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = no_delay(connect_or_fail(connect, free_port, "client"))
    request, expected = line("UPPER hello"), line("HELLO")
    connection.send_pieces([bytes([byte]) for byte in request], BYTE_PAUSE)
    answer = connection.read_line(ANSWER_TIMEOUT)
    extra = connection.read(NOTHING_MORE_WINDOW)  # "never" check: nothing more may come
    if answer.data == expected and answer.ending == "condition" and not extra.data:
        return
    found = lines_of(answer.data + extra.data)
    got = Message(f"got {len(found)} line(s) of answer: {show_lines(found)}",
                  f"收到 {len(found)} 行应答：{show_lines(found)}") if found \
        else line_arrival(answer, ANSWER_TIMEOUT)
    fail_stream(
        server, answer.data + extra.data, expected,
        f"the grader sent the request {preview(request)} one byte at a time, "
        f"{BYTE_PAUSE * 1000:.0f} ms apart; it should get exactly one answer, the line "
        f"{preview(expected)}, and it {got.en}.{LESSON} Each recv() returns whatever has arrived, "
        f"here a single byte: keep the bytes in a buffer and handle a request only once its "
        f"'\\n' has arrived ({STREAM_EN}).",
        f"评分程序把请求 {preview(request)} 逐字节发送，每字节间隔 {BYTE_PAUSE * 1000:.0f} 毫秒；"
        f"应当恰好收到一个应答，即这一行 {preview(expected)}，实际{got.zh}。{LESSON}每次 recv() "
        f"返回的是已经到达的数据，这里只有一个字节：请把字节存进缓冲区，等请求的 '\\n' 到达后"
        f"再处理它（{STREAM_ZH}）。")


@pytest.mark.check(points=2, lesson="4.4", program="line_server.py",
                   title="100 requests in one piece get 100 answers in order",
                   title_zh="一次发送的 100 个请求按顺序得到 100 个应答")
def test_hundred_requests_in_one_piece(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    requests, wanted = hundred_requests()
    payload = b"".join(requests)
    connection.send(payload)  # one send() call: the whole batch leaves as one piece
    reply = connection.read(HUNDRED_TIMEOUT, until=lambda buffer: buffer.count(b"\n") >= HUNDRED)
    found = lines_of(reply.data)
    if found == wanted:
        return
    got = hundred_answers(found, wanted, reply.ending)
    fail_stream(
        server, reply.data, b"".join(wanted),
        f"the grader sent {HUNDRED} ECHO and UPPER requests in one piece ({len(payload)} bytes, "
        f"one send()); within {HUNDRED_TIMEOUT:.0f} s it got {got.en}.{LESSON} One recv() can return "
        f"many requests at once: handle every complete line in the buffer, in order, and keep "
        f"only the unfinished rest for later ({STREAM_EN}).",
        f"评分程序把 {HUNDRED} 个 ECHO 和 UPPER 请求一次发送（{len(payload)} 个字节，一次 "
        f"send()）；{HUNDRED_TIMEOUT:.0f} 秒内收到 {got.zh}。{LESSON}一次 recv() 可能收到许多个请求："
        f"请按顺序处理缓冲区里的每一个完整行，只把未完成的部分留到以后（{STREAM_ZH}）。")


def hundred_requests() -> tuple[list[bytes], list[bytes]]:
    """A hundred request lines, four kinds in turn (ASCII and Chinese), and their answers."""
    requests, expected = [], []
    for index in range(1, HUNDRED + 1):
        if index % 4 == 1:
            requests.append(f"ECHO request-{index}")
            expected.append(f"request-{index}")
        elif index % 4 == 2:
            requests.append(f"UPPER request-{index}")
            expected.append(f"REQUEST-{index}")
        elif index % 4 == 3:
            requests.append(f"ECHO 第{index}个请求")
            expected.append(f"第{index}个请求")
        else:
            requests.append(f"UPPER 第{index}行-mixed")
            expected.append(f"第{index}行-MIXED")
    return [line(request) for request in requests], [line(answer) for answer in expected]


def hundred_answers(found: list[bytes], wanted: list[bytes], kind: str) -> Message:
    """The answer lines that came for the hundred requests: how many, how many right, the
    first wrong one (or what came after the hundredth), and how the connection ended."""
    right = first_difference(found, wanted)
    if right < min(len(found), HUNDRED):
        where = Message(f"; answer {right + 1} should be {preview(wanted[right])} but was "
                        f"{preview(found[right])}",
                        f"；第 {right + 1} 个应答应为 {preview(wanted[right])}，实际是 "
                        f"{preview(found[right])}")
    elif len(found) > HUNDRED:
        where = Message(f"; then more came: {show_lines(found[HUNDRED:], 3)}",
                        f"；之后还有更多：{show_lines(found[HUNDRED:], 3)}")
    else:
        where = NOTHING
    if right == len(found) and right < HUNDRED:
        judged = Message("all of them right, the rest missing", "这些都正确，其余的没有收到")
    else:
        judged = Message(f"the first {right} right", f"其中前 {right} 行正确")
    end = then(kind, HUNDRED_TIMEOUT) if kind in ("eof", "reset", "overflow") else NOTHING
    end = Message(f", {end.en}", f"，{end.zh}") if end.en else end
    return Message(f"{len(found)} answer line(s){end.en}, {judged.en}{where.en}",
                   f"{len(found)} 行应答{end.zh}，{judged.zh}{where.zh}")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="A Chinese character split across two pieces is decoded correctly",
                   title_zh="被拆到两段中的汉字能正确解码")
def test_chinese_split_across_pieces(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = no_delay(connect_or_fail(connect, free_port, "client"))
    request, expected = line("ECHO 你好世界"), line("你好世界")
    cut = len("ECHO ".encode("utf-8")) + 2  # after the 2nd of the 3 UTF-8 bytes of 你
    connection.send_pieces([request[:cut], request[cut:]], SPLIT_PAUSE)
    answer = connection.read_line(ANSWER_TIMEOUT)
    if answer.data == expected and answer.ending == "condition":
        return
    got = line_arrival(answer, ANSWER_TIMEOUT, expected)
    fail_stream(
        server, answer.data, expected,
        f"the grader sent {preview(request)} in two pieces {SPLIT_PAUSE:.1f} s apart, cut "
        f"inside the character 你 (UTF-8 bytes e4 bd a0: the first piece ended with e4 bd); "
        f"the answer should be the line {preview(expected)}, and it {got.en}.{LESSON} Decoding each "
        f"recv() piece on its own breaks a character that was cut in two: keep bytes in the "
        f"buffer and decode only complete lines ({STREAM_EN}).",
        f"评分程序把 {preview(request)} 分成两段发送，间隔 {SPLIT_PAUSE:.1f} 秒，切分点在汉字“你”"
        f"的中间（UTF-8 字节 e4 bd a0：第一段以 e4 bd 结尾）；应答应为这一行 {preview(expected)}，"
        f"实际{got.zh}。{LESSON}对每次 recv() 得到的片段单独解码，会把被切开的汉字弄坏：请在缓冲区里"
        f"保存字节，只解码完整的行（{STREAM_ZH}）。")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="A 64 KiB line is answered in full", title_zh="完整应答 64 KiB 的长行")
def test_long_line_64k(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    request, expected = line("ECHO " + LONG_TEXT), line(LONG_TEXT)
    sent = connection.send(request, LONG_TIMEOUT)
    answer = connection.read_line(LONG_TIMEOUT)
    if answer.data == expected and answer.ending == "condition":
        return
    got = line_arrival(answer, LONG_TIMEOUT, expected)
    not_all = "" if sent else " (the server stopped reading before the whole request was sent)"
    not_all_zh = "" if sent else "（在整个请求发完之前服务器就不再读取了）"
    fail_stream(
        server, answer.data, expected,
        f"the grader sent an ECHO request with {len(LONG_TEXT)} bytes (64 KiB) of text"
        f"{not_all}; the answer should be that text as one line ({len(expected)} bytes with "
        f"its '\\n'), and it {got.en}.{LESSON} A line can be longer than one recv(): keep receiving "
        f"into the buffer until the '\\n' arrives, with no small limit on the line's length "
        f"(asyncio's readline() stops at 64 KiB unless start_server() is given a larger "
        f"limit) ({STREAM_EN}).",
        f"评分程序发送了一个 ECHO 请求，带 {len(LONG_TEXT)} 个字节（64 KiB）的文本{not_all_zh}；"
        f"应答应为这段文本组成的一行（含 '\\n' 共 {len(expected)} 个字节），实际{got.zh}。{LESSON}"
        f"一行可能比一次 recv() 更长：请不断接收到缓冲区中，直到 '\\n' 到达，不要给行长设很小的"
        f"上限（asyncio 的 readline() 默认在 64 KiB 处停止，除非给 start_server() 传入更大的 "
        f"limit）（{STREAM_ZH}）。")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="An unknown command gets ERR and the session goes on",
                   title_zh="未知命令得到 ERR，会话继续")
def test_unknown_command(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    request = line("FLY me to the moon")
    answer = ask(connection, request)
    if not (answer.ending == "condition" and answer.data.startswith(b"ERR")):
        got = line_arrival(answer, ANSWER_TIMEOUT)
        fail_crash_first(
            server,
            f"the grader sent the unknown command {preview(request)}; the answer should be a "
            f"line starting with 'ERR', and it {got.en}. Answer anything that is not ECHO, "
            f"UPPER, ADD or QUIT with 'ERR ...\\n' and keep the connection open (lesson 4.4).",
            f"评分程序发送了未知命令 {preview(request)}；应答应为以 'ERR' 开头的一行，实际"
            f"{got.zh}。对 ECHO、UPPER、ADD、QUIT 以外的任何请求，请应答 'ERR ...\\n' 并保持连接"
            f"（第 4.4 节）。")
    follow_up, expected = line("ECHO 还在吗"), line("还在吗")
    after = ask(connection, follow_up)
    if after.data == expected and after.ending == "condition":
        return
    got = line_arrival(after, ANSWER_TIMEOUT, expected)
    fail_crash_first(
        server,
        f"after answering {preview(answer.data)} to the unknown command {preview(request)}, "
        f"the grader sent {preview(follow_up)} on the same connection and {got.en}, not the "
        f"line {preview(expected)}. An unknown command is answered with ERR and the session "
        f"goes on: do not close the connection (lesson 4.4).",
        f"对未知命令 {preview(request)} 应答 {preview(answer.data)} 之后，评分程序在同一连接上"
        f"发送了 {preview(follow_up)}，实际{got.zh}，而不是这一行 {preview(expected)}。"
        f"未知命令应答 ERR 后会话应继续：不要关闭连接（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="QUIT gets BYE and the server closes first (TIME_WAIT on its side)",
                   title_zh="QUIT 得到 BYE，服务器先关闭（TIME_WAIT 在服务器一侧）")
def test_quit_server_closes_first(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_answer(connection, line("ECHO before-quitting"), line("before-quitting"), server=server)
    request, expected = line("QUIT"), line("BYE")
    expect_answer(connection, request, expected,
                  "QUIT is answered with the line 'BYE\\n' (lesson 4.4).",
                  "QUIT 的应答是这一行 'BYE\\n'（第 4.4 节）。", server=server)
    end = connection.wait_closed(CLOSE_TIMEOUT)
    if end.ending == "reset":
        fail(f"after BYE your server reset the connection ({RESET_NOT_FIN.en}). Close the "
             f"socket normally with close() after sending BYE; a reset throws away data still "
             f"in flight (lesson 4.5, the four-way close). {RESET_CAUSES.en}",
             f"发送 BYE 之后服务器重置了连接（{RESET_NOT_FIN.zh}）。发送 BYE 后请用 close() 正常"
             f"关闭套接字；重置会丢弃仍在传输的数据（第 4.5 节，四次挥手）。{RESET_CAUSES.zh}")
    expect(end.ending == "eof",
           f"after BYE the grader waited {CLOSE_TIMEOUT:.0f} s without closing its side and saw "
           f"no FIN{' (it got ' + preview(end.data) + ' instead)' if end.data else ''}: your "
           f"server did not close the connection. After QUIT the server closes first: send BYE, "
           f"then close() the client's socket without waiting for the client (lesson 4.4; the "
           f"four-way close of 4.5).",
           f"发送 BYE 之后，评分程序在不关闭自己一端的情况下等了 {CLOSE_TIMEOUT:.0f} 秒，没有看到 FIN"
           f"{'（收到的是 ' + preview(end.data) + '）' if end.data else ''}：服务器没有关闭连接。"
           f"收到 QUIT 后由服务器先关闭：发送 BYE，然后对客户端套接字调用 close()，不要等待客户端"
           f"（第 4.4 节；第 4.5 节四次挥手）。")
    expect(not end.data,
           f"after BYE your server sent {preview(end.data)} before closing; QUIT's answer is the "
           f"line 'BYE\\n' and nothing else (lesson 4.4).",
           f"发送 BYE 之后、关闭之前，服务器又发送了 {preview(end.data)}；QUIT 的应答只有 'BYE\\n' "
           f"这一行（第 4.4 节）。")
    connection.close()
    expect_time_wait_on_server_side(free_port, connection.local_port)


def expect_time_wait_on_server_side(port: int, client_port: int) -> None:
    """The server closed first, so its side of the connection goes through TIME_WAIT."""
    def server_time_wait() -> list:
        return [row for row in kernel.rows_on_port(port, TcpState.TIME_WAIT)
                if row.remote_port == client_port]

    if wait_until(server_time_wait, 1.0):
        return
    rows = [row.describe() for row in kernel.read_table()
            if {row.local_port, row.remote_port} == {port, client_port}]
    fail(f"the server sent FIN first and the grader then closed too, but no TIME_WAIT row "
         f"appeared on the server's side of the connection (port {port}) within 1 s "
         f"(rows of this connection: {', '.join(rows) or 'none'}). Whoever closes first goes "
         f"through TIME_WAIT (the four-way close of lesson 4.5).",
         f"服务器先发送了 FIN，评分程序随后也关闭了，但 1 秒内服务器一侧（端口 {port}）没有"
         f"出现 TIME_WAIT（这条连接的行：{', '.join(rows) or '无'}）。先关闭的一方会经历 "
         f"TIME_WAIT（第 4.5 节四次挥手）。")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="A client that leaves in the middle of a line does not stop the server",
                   title_zh="客户端在一行中途离开不会让服务器停止")
def test_disconnect_mid_line(run_program, connect, free_port):
    server = serve(run_program, free_port)
    leaving = connect_or_fail(connect, free_port, "client that leaves mid-line")
    leaving.send(b"ECHO unfinish")  # no "\n": the request never ends
    before = count_lines(server, DISCONNECT_LINE)
    leaving.close()
    # Give a crash the time to show (or go on as soon as the server reports the disconnect).
    wait_until(lambda: not server.running() or server.has_traceback()
               or count_lines(server, DISCONNECT_LINE) > before, DISCONNECT_LIMIT)
    expect_alive(server, "a client sent 'ECHO unfinish' without '\\n' and closed the connection",
                 "一个客户端发送了没有 '\\n' 的 'ECHO unfinish' 并关闭了连接")
    following = connect_or_fail(connect, free_port, "next client")
    expect_answer(following, line("ECHO 下一个"), line("下一个"),
                  "The previous client had left in the middle of a line; the unfinished line "
                  "is simply dropped and the next client served (lesson 4.4).",
                  "上一个客户端在一行中途离开了；未完成的行直接丢弃即可，然后服务下一个客户端（第 4.4 节）。", server=server)
    expect_alive(server, "a client left in the middle of a line and the next one was served",
                 "一个客户端在一行中途离开、下一个客户端得到服务")


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Prints a disconnect line within 1 s", title_zh="1 秒内打印断开提示")
def test_reports_disconnect(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    expect_answer(connection, line("ECHO 再见"), line("再见"), server=server)
    expect_disconnect_reported(server, [connection], DISCONNECT_LIMIT, DISCONNECT_HINT)


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Stops cleanly on SIGINT and SIGTERM with a client connected",
                   title_zh="有客户端连接时，收到 SIGINT 和 SIGTERM 都能干净地退出")
def test_stops_cleanly(run_program, connect, free_port):
    expect_clean_stops_with_a_client(
        lambda port: serve(run_program, port), connect, PROGRAM, free_port,
        lambda connection, server: expect_answer(connection, line("ECHO 还在这里"),
                                                 line("还在这里"), server=server))


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="ECHO keeps the spaces of its text",
                   title_zh="ECHO 保留文本中的空格")
def test_echo_keeps_spaces(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    # The text is everything after "ECHO ": here it starts and ends with a space.
    expect_answer(connection, line("ECHO  two  spaces "), line(" two  spaces "),
                  "The text of ECHO is everything after 'ECHO ' up to the '\\n', spaces "
                  "included: do not strip() the line or split() and join the words "
                  "(line.partition(' ') keeps them) (lesson 4.4).",
                  "ECHO 的文本是 'ECHO ' 之后直到 '\\n' 的全部内容，包括空格：不要对这一行 strip()，"
                  "也不要 split() 后再拼接（line.partition(' ') 会保留空格）（第 4.4 节）。",
                  server=server)


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="An unfinished line is never answered",
                   title_zh="不应答未完成的行")
def test_unfinished_line_not_answered(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "client")
    connection.send(b"ECHO unfinish")  # no "\n"
    connection.shutdown_write()
    end = connection.wait_closed(CLOSE_TIMEOUT)
    expect_crash_first(
        not end.data, server,
        f"the grader sent 'ECHO unfinish' without '\\n' and then closed its sending side "
        f"(shutdown(SHUT_WR)); your server answered {preview(end.data)}. A request is only "
        f"complete with its '\\n': bytes left in the buffer when recv() returns b'' are an "
        f"unfinished line, drop them ({STREAM_EN}).",
        f"评分程序发送了没有 '\\n' 的 'ECHO unfinish'，然后关闭了自己的发送方向"
        f"（shutdown(SHUT_WR)）；服务器应答了 {preview(end.data)}。请求只有带上 '\\n' 才完整："
        f"recv() 返回 b'' 时缓冲区里剩下的字节是未完成的行，丢弃即可（{STREAM_ZH}）。")


RESETS = (("right after connecting", "刚连接就", b""),
          ("in the middle of a line", "在一行中途", b"ECHO unfini"),
          ("after an answered request", "在一个请求得到应答后", b"ECHO answered\n"))


def reset_client(server, connect, port: int, sent: bytes) -> None:
    """A client that sends ``sent`` (and reads its answer, if it is a whole line), then resets."""
    rude = connect_or_fail(connect, port, "client that resets")
    if sent:
        rude.send(sent)
    if sent.endswith(b"\n"):
        rude.read_line(ANSWER_TIMEOUT)
    rude.reset()


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Serves the next client after clients that reset",
                   title_zh="客户端重置连接后继续服务下一个客户端")
def test_next_client_after_reset(run_program, connect, free_port):
    server = serve(run_program, free_port)
    for when, when_zh, sent in RESETS:
        before = count_lines(server, DISCONNECT_LINE)
        reset_client(server, connect, free_port, sent)
        wait_until(lambda: not server.running() or server.has_traceback()
                   or count_lines(server, DISCONNECT_LINE) > before, DISCONNECT_LIMIT)
        expect_alive(server, f"a client reset the connection (RST) {when}",
                     f"一个客户端{when_zh}重置了连接（RST）")
    following = connect_or_fail(connect, free_port, "next client")
    expect_answer(following, line("ECHO 下一个"), line("下一个"),
                  "Clients before this one had reset their connections (ConnectionResetError): "
                  "end that session and serve the next client (lesson 4.4).",
                  "之前的客户端重置了连接（ConnectionResetError）：结束那个会话，继续服务下一个客户端"
                  "（第 4.4 节）。", server=server)


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Prints a disconnect line when a client resets",
                   title_zh="客户端重置连接时打印断开提示")
def test_reports_disconnect_after_reset(run_program, connect, free_port):
    server = serve(run_program, free_port)
    for when, when_zh, sent in RESETS:
        before = count_lines(server, DISCONNECT_LINE)
        reset_client(server, connect, free_port, sent)
        if wait_new_line(server, DISCONNECT_LINE, before, DISCONNECT_LIMIT):
            continue
        missing = disconnect_lines_missing(0, 1, DISCONNECT_LIMIT)
        fail_crash_first(
            server,
            f"a client reset the connection (RST) {when}; {missing.en}. A reset ends the "
            f"session too: catch ConnectionResetError, print the disconnect line and close "
            f"the socket (lesson 4.4).",
            f"一个客户端{when_zh}重置了连接（RST）；{missing.zh}。重置也会结束会话：请捕获 "
            f"ConnectionResetError，打印断开提示并关闭套接字（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.3", program="line_server.py",
                   title="Listens on port 7788 when no port is given",
                   title_zh="未给出端口时监听 7788")
def test_default_port(default_port_network, run_program, connect):
    server = start_on_default_port(run_program, PROGRAM, default_port_network)
    connection = connect_or_fail(connect, DEFAULT_PORT, "client", default_port_network)
    expect_answer(connection, line("ECHO 默认"), line("默认"), server=server)


MALFORMED = (("ADD 2", "ADD with one number"), ("ADD two 40", "ADD with a word for a number"),
             ("", "an empty line"))


@pytest.mark.check(points=1, lesson="4.4", program="line_server.py",
                   title="Malformed requests get ERR", title_zh="格式错误的请求得到 ERR")
def test_malformed_requests(run_program, connect, free_port):
    server = serve(run_program, free_port)
    for request, what in MALFORMED:  # a connection each: staying open is another check's
        connection = connect_or_fail(connect, free_port, "client")
        answer = ask(connection, line(request))
        connection.close()
        if answer.ending == "condition" and answer.data.startswith(b"ERR"):
            continue
        got = line_arrival(answer, ANSWER_TIMEOUT)
        fail_crash_first(
            server,
            f"the grader sent {preview(line(request))} ({what}); the answer should be a line "
            f"starting with 'ERR', and it {got.en}. A request that does not fit the protocol "
            f"(a missing or non-integer number for ADD, an empty line) gets 'ERR ...\\n' and "
            f"the connection stays open: catch the ValueError of int() (lesson 4.4).",
            f"评分程序发送了 {preview(line(request))}（{what}）；应答应为以 'ERR' 开头的一行，实际"
            f"{got.zh}。不符合协议的请求（ADD 缺少数字或数字不是整数、空行）应答 'ERR ...\\n'，"
            f"连接保持打开：请捕获 int() 的 ValueError（第 4.4 节）。")


@pytest.mark.check(points=1, lesson="4.4 note 3", program="line_server.py",
                   title="Restarted at once, binds its port despite TIME_WAIT",
                   title_zh="立即重启时，即使有 TIME_WAIT 也能绑定端口")
def test_restart_binds_port(run_program, connect, free_port):
    server = serve(run_program, free_port)
    connection = connect_or_fail(connect, free_port, "connected client")
    expect_answer(connection, line("ECHO restart"), line("restart"), server=server)
    again = restart_after_a_client(run_program, PROGRAM, free_port, server, connection)
    following = connect_or_fail(connect, free_port, "client after the restart")
    expect_answer(following, line("ECHO again"), line("again"), server=again)
