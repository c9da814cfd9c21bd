"""Bilingual building blocks every exercise repeats: how a connection ended, how the bytes
that arrived differ from the expected ones, how a program is doing (and, when it crashed,
the exception it crashed with and where), and the explanations the course gives again and
again (a reset instead of a FIN, CLOSE_WAIT, the disconnect line).

Rule 1: everything here returns words: a ``Message`` (English and Chinese), or a short
string that reads the same in both languages. Nothing here waits, opens a socket or
decides whether something is right (it may look at a program's exit status and output,
never wait for them); the steps (``steps``) and the checks observe and judge, this module
says what they saw, so that every check says it the same way. It knows no exercise.
Rule 2: what came from the student's program is summarised, never dumped: a length, the
first bytes, the first difference, the last line of a traceback. Binary data is shown in
hex, text escaped (``events.preview``), so nothing printed can disturb a report.

Phrases that describe what someone did are predicates: the English one starts with its verb
("got only the first 12 of the 20 bytes"), the Chinese one too ("只收到 20 个字节中的前 12
个"), so that a check puts its own subject in front ("client 3 " / "客户端 3").
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..language import Message
from .events import preview
from .peers import RECEIVE_CAP, Reception

if TYPE_CHECKING:
    from .kernel import SocketRow
    from .program import StudentProgram

NOTHING = Message("", "")
PEEK_BYTES = 8
LINE_IN_FULL = 120  # a protocol line up to this length is shown whole
EXCEPTION_CHARS = 200

YOUR_SERVER = Message("your server", "服务器")
YOUR_CLIENT = Message("your client", "客户端")
THE_GRADER = Message("the grader", "评分程序")
THE_SERVER = Message("the server", "服务器")
THE_CLIENT = Message("the client", "客户端")
SERVER_CLOSED = Message("the server closed the connection (FIN)", "服务器关闭了连接（FIN）")


def seconds(value: float) -> str:
    """A duration as the checks' constants read: ``2``, ``0.5``, ``1.5``."""
    return f"{value:g}"


def capitalized(message: Message) -> Message:
    """The English words at the start of a sentence (Chinese has no capitals)."""
    return Message(message.en[:1].upper() + message.en[1:], message.zh)


# -- bytes, summarised -------------------------------------------------------------------------

def first_difference(got: Sequence, want: Sequence) -> int:
    """Where ``got`` first differs from ``want``: the index of the first unequal item, or the
    shorter length when one is the start of the other. For bytes and for lists of lines."""
    return next((index for index, (mine, theirs) in enumerate(zip(got, want)) if mine != theirs),
                min(len(got), len(want)))


def is_text(data: bytes) -> bool:
    """UTF-8 text without control characters but tab and line ends, also when a character is
    cut at the very end (a piece of a longer text). Anything else is shown in hex."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(data) - 3 or error.reason != "unexpected end of data":
            return False
        text = data[:error.start].decode("utf-8")
    return all(character.isprintable() or character in "\t\r\n" for character in text)


def hex_bytes(data: bytes) -> str:
    """``e4 bd a0``: how bytes that are not text are shown."""
    return data.hex(" ")


def peek(data: bytes, offset: int = 0, as_text: bool | None = None,
         count: int = PEEK_BYTES) -> str:
    """A few bytes from ``offset`` on: escaped text if the data is text, hex otherwise."""
    piece = data[offset:offset + count]
    if not piece:
        return "(the end)"
    text = is_text(data) if as_text is None else as_text
    return preview(piece) if text else hex_bytes(piece)


def sized(data: bytes, more: bool = False) -> Message:
    """``12 bytes 'hello world\\n'``: text with its preview, binary data with its first
    bytes in hex (a preview of random bytes is a wall of escapes). ``more``: "12 more
    bytes"."""
    count = Message(f"{len(data)} more bytes", f"多出的 {len(data)} 个字节") if more else \
        Message(f"{len(data)} bytes", f"{len(data)} 个字节")
    if not data or is_text(data):
        shown = f" {preview(data)}" if data else ""
        return Message(count.en + shown, count.zh + shown)
    start = hex_bytes(data[:2 * PEEK_BYTES]) + (" ..." if len(data) > 2 * PEEK_BYTES else "")
    return Message(f"{count.en} of binary data ({start})", f"{count.zh}的二进制数据（{start}）")


def show_line(line: bytes) -> str:
    """A protocol line, escaped: whole when it is short (a reply line is read in full, a
    SHA-256 is longer than a preview), shortened when it is long."""
    if len(line) > LINE_IN_FULL:
        return preview(line)
    return repr(line.decode("utf-8", errors="backslashreplace"))


def difference(got: bytes, want: bytes) -> Message:
    """How ``got`` differs from ``want``, as a predicate: "got only the first 12 of the 20
    bytes", "got the 20 bytes, then 2 more bytes '\\r\\n'", "got 20 bytes that differ from
    the first byte on: c4 e3 where e4 bd was expected", "got 7 bytes 'thanks!'; the first 5
    bytes are right, then it has 's!' where ' you !' was expected"."""
    same = first_difference(got, want)
    if got == want:
        return Message(f"got exactly the {len(want)} bytes", f"恰好收到了这 {len(want)} 个字节")
    if not got:
        return Message("got nothing", "什么也没有收到")
    if same == len(got):
        return Message(f"got only the first {len(got)} of the {len(want)} bytes",
                       f"只收到 {len(want)} 个字节中的前 {len(got)} 个")
    if same == len(want):
        extra = sized(got[same:], more=True)
        return Message(f"got the {len(want)} bytes, then {extra.en}",
                       f"收到了这 {len(want)} 个字节，但后面还有{extra.zh}")
    text = is_text(got) and is_text(want)  # both shown the same way, to be compared
    mine, theirs = peek(got, same, text), peek(want, same, text)
    if not same:
        return Message(f"got {len(got)} bytes that differ from the first byte on: {mine} "
                       f"where {theirs} was expected",
                       f"收到 {len(got)} 个字节，从第一个字节起就不同：收到的是 {mine}，应为 {theirs}")
    whole = sized(got) if text else Message(f"{len(got)} bytes", f"{len(got)} 个字节")
    return Message(f"got {whole.en}; the first {same} bytes are right, then it has {mine} "
                   f"where {theirs} was expected",
                   f"收到 {whole.zh}；前 {same} 个字节正确，之后收到的是 {mine}，应为 {theirs}")


# -- how a connection ended ----------------------------------------------------------------------

def ending(kind: str, waited: float, closed: Message = SERVER_CLOSED) -> Message:
    """How a read ended (``Reception.ending``) as the grader saw it on the wire; ``closed``
    says who sent the FIN. Empty when the read got what it waited for."""
    if kind == "eof":
        return closed
    if kind == "reset":
        return Message("the connection was reset (RST)", "连接被重置（RST）")
    if kind == "overflow":
        limit = RECEIVE_CAP // (1024 * 1024)
        return Message(f"the grader stopped reading after more than {limit} MiB",
                       f"超过 {limit} MiB 后评分程序停止了读取")
    if kind == "timeout":
        return Message(f"nothing more came within {seconds(waited)} s",
                       f"在 {seconds(waited)} 秒内没有更多数据")
    return NOTHING


def then(kind: str, waited: float, closed: Message = SERVER_CLOSED) -> Message:
    """``then <ending>`` / ``然后<ending>``, or nothing when the read did not end."""
    words = ending(kind, waited, closed)
    return Message(f"then {words.en}", f"然后{words.zh}") if words.en else NOTHING


def arrival(got: bytes, want: bytes, kind: str, waited: float,
            closed: Message = SERVER_CLOSED) -> Message:
    """What came instead of ``want`` and how the read ended, as a predicate: "got nothing
    within 3 s", "got nothing: the connection was reset (RST)", "got only the first 12 of
    the 20 bytes, then the server closed the connection (FIN)"."""
    if not got and kind == "timeout":
        return Message(f"got nothing within {seconds(waited)} s",
                       f"在 {seconds(waited)} 秒内什么也没有收到")
    if not got:
        words = ending(kind, waited, closed)
        return Message(f"got nothing: {words.en}", f"什么也没有收到：{words.zh}")
    words, after = difference(got, want), then(kind, waited, closed)
    if not after.en:
        return words
    return Message(f"{words.en}, {after.en}", f"{words.zh}，{after.zh}")


def line_arrival(reception: Reception, waited: float, expected: bytes | None = None) -> Message:
    """What came where one line was awaited (``read_line``), as a predicate: "got the line
    'ERR\\n'", "got no answer within 2 s", "got 'BY' without a newline at the end, then the
    server closed the connection (FIN)". With ``expected``, how much of it was right."""
    data, kind = reception.data, reception.ending
    if kind == "condition":
        words = Message(f"got the line {show_line(data)}", f"收到的是这一行 {show_line(data)}")
    elif not data and kind == "timeout":
        return Message(f"got no answer within {seconds(waited)} s",
                       f"在 {seconds(waited)} 秒内没有收到应答")
    elif not data:
        end = ending(kind, waited)
        return Message(f"got no answer: {end.en}", f"没有收到应答：{end.zh}")
    else:
        after = then(kind, waited)
        words = Message(f"got {show_line(data)} without a newline at the end, {after.en}",
                        f"收到 {show_line(data)}，末尾没有换行符，{after.zh}")
    return words + _how_much_right(data, expected)


def _how_much_right(data: bytes, expected: bytes | None) -> Message:
    """How much of a wrong line was right, where that is not plain to see: the newline
    missing from the right text, or the right start of a line too long to read."""
    if expected is None or data == expected:
        return NOTHING
    if data + b"\n" == expected:
        return Message(" (the right text, but without its '\\n')", "（内容是对的，但末尾缺少 '\\n'）")
    same = first_difference(data, expected)
    if not same or len(expected) <= LINE_IN_FULL:
        return NOTHING
    return Message(f" ({len(data)} bytes, the first {same} of them right)",
                   f"（{len(data)} 个字节，其中前 {same} 个正确）")


RESET_NOT_FIN = Message("the grader saw RST, not FIN", "评分程序看到的是 RST 而不是 FIN")
RESET_CAUSES = Message(
    "A reset comes from closing a socket with unread data, or with SO_LINGER set to 0.",
    "带着未读数据关闭套接字，或把 SO_LINGER 设为 0，都会产生重置。")


def in_close_wait(who: Message, peer: Message, row: "SocketRow | None" = None) -> Message:
    """A socket left in CLOSE_WAIT, and what that means (lesson 4.4, note 9), as a clause:
    "your server's socket sat in CLOSE_WAIT (...): the client's FIN had arrived and your
    server never closed its side"."""
    shown = f" ({row.describe()})" if row is not None else ""
    return Message(f"{who.en}'s socket sat in CLOSE_WAIT{shown}: {peer.en}'s FIN had arrived "
                   f"and {who.en} never closed its side",
                   f"{who.zh}的套接字停留在 CLOSE_WAIT{shown}：{peer.zh}的 FIN 已经到达，"
                   f"{who.zh}却一直没有关闭自己一端")


# -- how a program is doing --------------------------------------------------------------------

TRACEBACK_HEADER = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
_SYNTAX_ERROR = re.compile(r"^(SyntaxError|IndentationError|TabError)\b")


@dataclass(frozen=True)
class Crash:
    """The end of a Python traceback in a program's output: the exception (its last line)
    and where it was raised (the last frame in the student's own files)."""

    exception: str  # "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe4 ..."
    file: str = ""  # "echo_server.py"; "" when the traceback shows no frame
    line: int = 0


def parse_crash(output: str, folder: str | Path | None = None) -> Crash | None:
    """The last traceback in ``output`` (a chained one ends with the exception that won), or
    the report of a syntax error (which has no traceback header); None if there is none.

    "Where" is the last frame in a file under ``folder`` (the student's code), else the last
    frame: an exception raised inside the standard library is the student's call into it."""
    lines = output.splitlines()
    header = next((index for index in range(len(lines) - 1, -1, -1)
                   if TRACEBACK_HEADER in lines[index]), None)
    start = header + 1 if header is not None else _syntax_error_start(lines)
    if start is None:
        return None
    frames, exception = [], ""
    for text in lines[start:]:
        frame = _FRAME.match(text)
        if frame:
            frames.append((frame["path"], int(frame["line"])))
        elif text.strip() and not text[:1].isspace():
            exception = text.strip()
            break
    path, line = _students_frame(frames, folder)
    return Crash(_shortened(exception), Path(path).name if path else "", line)


def _syntax_error_start(lines: list[str]) -> int | None:
    """Where the report of a syntax error starts (its ``File ...`` line), if there is one."""
    for index in range(len(lines) - 1, -1, -1):
        if _SYNTAX_ERROR.match(lines[index]):
            return next((frame for frame in range(index - 1, max(index - 8, -1), -1)
                         if _FRAME.match(lines[frame])), None)
    return None


def _students_frame(frames: list[tuple[str, int]], folder) -> tuple[str, int]:
    if frames and folder is not None:
        # "<frozen codecs>", "<string>": the interpreter's own code, never the student's.
        mine = [frame for frame in frames if not frame[0].startswith("<") and (
                Path(frame[0]).is_relative_to(folder) or "/" not in frame[0])]
        if mine:
            return mine[-1]
    return frames[-1] if frames else ("", 0)


def _shortened(text: str) -> str:
    text = "".join(character for character in text if character.isprintable())
    return text if len(text) <= EXCEPTION_CHARS else text[:EXCEPTION_CHARS] + " ..."


def crash_of(program: "StudentProgram") -> Crash | None:
    """The crash the program's output shows, if any (from what it printed so far)."""
    return parse_crash(program.output, program.workdir)


def raised(crash: Crash | None) -> Message:
    """``ValueError: bad port (server.py, line 12)``: the exception first, then where, which
    is what a student needs to find the fault ("a traceback" if it was cut off)."""
    where = _where(crash) if crash else NOTHING
    exception = crash.exception if crash else ""
    return Message((exception or "a traceback") + where.en, (exception or "异常回溯") + where.zh)


def _where(crash: Crash) -> Message:
    if not crash.file:
        return NOTHING
    return Message(f" ({crash.file}, line {crash.line})", f"（{crash.file} 第 {crash.line} 行）")


def exit_words(program: "StudentProgram") -> Message:
    """``exit status 1``, ``killed by signal SIGKILL`` or ``still running``, in both languages
    (``StudentProgram.exit_description`` is English only)."""
    if program.exit_signal is not None:
        try:
            name = signal.Signals(program.exit_signal).name
        except ValueError:
            name = str(program.exit_signal)
        return Message(f"killed by signal {name}", f"被信号 {name} 终止")
    if program.exit_status is not None:
        return Message(f"exit status {program.exit_status}", f"退出状态 {program.exit_status}")
    return Message("still running", "仍在运行")


def status(program: "StudentProgram", detail: bool = True) -> Message:
    """How the program is doing, as a predicate after "your server" / "服务器": "was still
    running", "ended with exit status 0", "was killed by signal SIGTERM", and when it
    printed a traceback, the exception first: "crashed with ValueError: bad port (server.py,
    line 12), exit status 1". Without ``detail`` the exception is left out (it already leads
    the feedback: ``crash_first``)."""
    running, exit_status = program.running(), exit_words(program)
    crash = crash_of(program)
    if crash is None and program.has_traceback():
        crash = Crash("")
    if crash is not None:
        shown = Message(f": {raised(crash).en}", f"：{raised(crash).zh}") if detail else NOTHING
        if running:
            return Message(f"was still running but had printed a traceback{shown.en}",
                           f"仍在运行，但打印过异常回溯{shown.zh}")
        if program.exit_status == 0:
            return Message(f"printed a traceback{shown.en}; then it ended with exit status 0",
                           f"打印了异常回溯{shown.zh}；然后以退出状态 0 结束")
        if not detail:
            return Message(f"crashed ({exit_status.en})", f"崩溃了（{exit_status.zh}）")
        return Message(f"crashed with {raised(crash).en}, {exit_status.en}",
                       f"崩溃了：{raised(crash).zh}，{exit_status.zh}")
    if running:
        return Message("was still running", "仍在运行")
    if program.exit_signal is not None:
        return Message(f"was {exit_status.en}", f"{exit_status.zh}了")
    return Message(f"ended with {exit_status.en}", f"以{exit_status.zh} 结束")


def crash_first(program: "StudentProgram", en: str, zh: str,
                who: Message = YOUR_SERVER) -> Message:
    """The feedback ``en`` / ``zh``, led by the program's crash when it printed a traceback:
    "Your server crashed with KeyError: 'x' (server.py, line 12), exit status 1. The grader
    sent ...". The exception and where it was raised come before the observation and any
    hint, because that is where the student has to look first."""
    if not program.has_traceback():
        return Message(en, zh)
    lead = capitalized(Message(f"{who.en} {status(program).en}.",
                               f"{who.zh}{status(program).zh}。"))
    return Message(f"{lead.en} {en[:1].upper()}{en[1:]}", f"{lead.zh}{zh}")


def waiting_for_input(program: "StudentProgram") -> Message:
    """`` It was waiting for more keyboard input.``, when it was (a program that asks one
    question too many looks hung for another reason)."""
    if not program.unanswered_question:
        return NOTHING
    return Message(" It was waiting for more keyboard input.", "它在等待更多键盘输入。")


# -- lines the servers print -------------------------------------------------------------------

DISCONNECT_WORDS = Message("'disconnected' (or '断开')", "'disconnected'（或“断开”）")
DISCONNECT_HINT = Message(
    "When recv() returns b'' the client has closed and its session is over: print a line "
    "saying so, then close its socket (lesson 4.4, note 8).",
    "recv() 返回 b'' 表示客户端已关闭、会话结束：打印一行提示，然后关闭它的套接字"
    "（第 4.4 节第 8 点）。")


def disconnect_lines_missing(printed: int, expected: int, limit: float) -> Message:
    """The disconnect lines a server did not print (the convention of exercises 03, 04, 05
    and 07), after "; ": "within 1 s your server printed no line containing ..."."""
    if expected == 1:
        return Message(f"within {seconds(limit)} s your server printed no line containing "
                       f"{DISCONNECT_WORDS.en}",
                       f"{seconds(limit)} 秒内服务器没有打印包含 {DISCONNECT_WORDS.zh} 的行")
    return Message(f"within {seconds(limit)} s your server printed {printed} new line(s) "
                   f"containing {DISCONNECT_WORDS.en}, not {expected}",
                   f"{seconds(limit)} 秒内服务器只打印了 {printed} 行新的包含 "
                   f"{DISCONNECT_WORDS.zh} 的提示，而不是 {expected} 行")
