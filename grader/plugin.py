"""The pytest plugin: fixtures that checks use, the ``check`` marker, and the result file.

Registered under the ``pytest11`` entry point as ``grader`` and loaded explicitly with
``-p grader.plugin`` by the grading session. It stays inert in any pytest session that
does not pass ``--grader-submission`` (such as the project's own tests), apart from
registering its marker and options.

Fixtures (each one cleans up after itself, whatever the check did):

- ``submission``: the scratch copy of the submission for this check; ``submission.program(name)``
  is the path of one program, or fails the check with a clear message when it is missing.
- ``run_program(name, args=(), answers=())``: starts a student program in a terminal and
  answers its ``input()`` questions; every process of it is killed when the check ends.
- ``peer_server()``: a grader-side listening socket on 127.0.0.1 (the program is the client).
- ``connect(port)``: a grader-side client connection to the program.
- ``free_port``: a loopback port nothing uses, for a server under test.
- ``lang``: ``"en"`` or ``"zh"``, the language of the feedback.

Every program output and wire log a check produced is attached to its feedback when it fails.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from . import kernel, peers
from .netns import NetworkUnavailable, open_network
from .program import StudentProgram, kill_student_processes
from .submission import copy_submission
from .verdict import CheckFailed, CheckInfo, CheckNotRun, CheckResult, Message, session_language

RESULTS_KEY = pytest.StashKey[list]()
EVIDENCE_KEY = pytest.StashKey[list]()
DEFAULT_CHECK_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grading TCP socket-programming exercises")
    group.addoption("--grader-submission", metavar="DIR", default=None,
                    help="folder with the student's programs; enables grading")
    group.addoption("--grader-json", metavar="FILE", default=None,
                    help="write the results here (Gradescope format)")
    group.addoption("--grader-lang", choices=("en", "zh", "auto"), default="auto",
                    help="language of the feedback (default: from the locale)")
    group.addoption("--grader-check-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"hard limit for one check (default {DEFAULT_CHECK_TIMEOUT:.0f})")
    parser.addini("grader_check_timeout", "hard limit in seconds for one check",
                  default=str(DEFAULT_CHECK_TIMEOUT))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "check(points, title, lesson='', program='', title_zh=''): a graded check "
        "worth `points`, about lesson point `lesson`, exercising the student program `program`")
    config.stash[RESULTS_KEY] = []


def _grading(config: pytest.Config) -> bool:
    return config.getoption("--grader-submission") is not None


def _check_info(item: pytest.Item) -> CheckInfo | None:
    marker = item.get_closest_marker("check")
    if marker is None:
        return None
    return CheckInfo(check_id=item.name, title=marker.kwargs.get("title", item.name),
                     points=float(marker.kwargs.get("points", 1)),
                     lesson=str(marker.kwargs.get("lesson", "")),
                     program=marker.kwargs.get("program", ""),
                     title_zh=marker.kwargs.get("title_zh", ""))


# -- fixtures -----------------------------------------------------------------------------

@pytest.fixture
def lang(request: pytest.FixtureRequest) -> str:
    return session_language(request.config.getoption("--grader-lang"))


class Submission:
    """The scratch copy of the submission for one check."""

    def __init__(self, original: Path, scratch: Path, notes: list[str]) -> None:
        self.original = original
        self.folder = scratch
        self.notes = notes

    def program(self, name: str) -> Path:
        path = self.folder / name
        if not path.is_file():
            raise CheckFailed(Message(
                f"{name} was not found in your submission, so this check could not run. "
                f"Save your program as {name} in the exercise folder.",
                f"提交的文件夹里没有 {name}，所以这一项无法运行。请把程序保存为 {name}。"))
        return path


@pytest.fixture
def submission(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Submission:
    original = Path(request.config.getoption("--grader-submission") or ".")
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=_scratch_root(tmp_path_factory)))
    os.chmod(scratch, 0o777)  # the student's uid (docker runner) may write here
    notes = copy_submission(original, scratch)
    return Submission(original, scratch, notes)


def _scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.getbasetemp() / "scratch"
    root.mkdir(exist_ok=True)
    root.chmod(0o755)
    for parent in (root.parent, root.parent.parent):
        try:
            parent.chmod(parent.stat().st_mode | 0o011)  # let the student's uid walk in
        except OSError:
            pass
    return root


@pytest.fixture
def run_program(request: pytest.FixtureRequest, submission: Submission):
    started: list[StudentProgram] = []
    evidence = request.node.stash.setdefault(EVIDENCE_KEY, [])

    def start(name: str, args: tuple | list = (), answers: tuple | list = (),
              network=None) -> StudentProgram:
        program = StudentProgram(submission.program(name), args=list(args),
                                 answers=list(answers), workdir=submission.folder,
                                 launcher=network.launcher() if network else None).start()
        started.append(program)
        evidence.append(program)
        return program

    yield start
    # Docker runner: first every process of the student's uid, whatever tree it left (fast:
    # found by uid alone, while a fork bomb still runs); then each run, reaped, its terminal closed.
    kill_student_processes()
    for program in started:
        program.kill_tree()


@pytest.fixture
def peer_server(request: pytest.FixtureRequest):
    servers: list[peers.PeerServer] = []
    evidence = request.node.stash.setdefault(EVIDENCE_KEY, [])

    def make(name: str = "connection") -> peers.PeerServer:
        server = peers.PeerServer(log_name=name)
        servers.append(server)
        evidence.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def connect(request: pytest.FixtureRequest):
    connections: list[peers.PeerConnection] = []
    evidence = request.node.stash.setdefault(EVIDENCE_KEY, [])

    def make(port: int, timeout: float = 5.0, name: str | None = None, network=None
             ) -> peers.PeerConnection | None:
        connection = peers.connect(port, timeout,
                                   log_name=name or f"client {len(connections) + 1}",
                                   make_socket=network.socket if network else None)
        if connection is not None:
            connections.append(connection)
            evidence.append(connection)
        return connection

    yield make
    for connection in connections:
        connection.close()


@pytest.fixture
def network(lang: str):
    """A network of the grader's own where packets can be dropped (see ``grader.netns``).
    Where none can be made, the check is reported as not run."""
    try:
        isolated = open_network()
    except NetworkUnavailable as error:
        raise CheckNotRun(Message(
            f"not run: this check needs a network where the grader can drop packets, and "
            f"none could be made here ({error}). Grade with --runner docker to run it.",
            f"未运行：这一项需要一个评分程序可以丢弃数据包的网络，但这里无法创建（{error}）。"
            f"请用 --runner docker 评分以运行它。")) from error
    yield isolated
    isolated.close()


@pytest.fixture
def free_port() -> int:
    """A port that is free on all IPv4 interfaces and has no rows in the socket table."""
    return kernel.unused_port()


# -- running checks and keeping their results ------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A hard limit per check (SIGALRM), in case a check's own deadlines are not enough."""
    if not _grading(item.config) or not hasattr(signal, "SIGALRM"):
        yield
        return
    limit = item.config.getoption("--grader-check-timeout") or float(
        item.config.getini("grader_check_timeout"))

    def expired(_signum, _frame):
        raise CheckFailed(Message(
            f"the check did not finish within {limit:.0f} s and was stopped",
            f"这一项在 {limit:.0f} 秒内没有完成，已被中止"))

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    info = _check_info(item)
    if info is None or not _grading(item.config):
        return
    lang = session_language(item.config.getoption("--grader-lang"))
    results: list[CheckResult] = item.config.stash[RESULTS_KEY]
    already = any(result.info.check_id == info.check_id for result in results)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if already:
            return
        results.append(_result(item, info, call, report, lang))
        _save(item.config)  # after every check, so a killed session still leaves its results


def _result(item: pytest.Item, info: CheckInfo, call: pytest.CallInfo,
            report: pytest.TestReport, lang: str) -> CheckResult:
    if report.passed:
        return CheckResult(info, "passed", info.points, duration=report.duration)
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, CheckNotRun):
        return CheckResult(info, "not_run", 0.0, feedback=error.message.text(lang),
                           duration=report.duration)
    if isinstance(error, CheckFailed):
        text = error.message.text(lang)
        if error.evidence:
            text += "\n" + error.evidence
    else:
        text = (("检查程序内部出错（不是你的错）：" if lang == "zh" else
                 "the check itself went wrong (not your program's fault): ")
                + f"{type(error).__name__}: {error}")
    text += _evidence(item, lang)
    return CheckResult(info, "failed", 0.0, feedback=text, duration=report.duration)


def _evidence(item: pytest.Item, lang: str) -> str:
    """The wire logs and program outputs this check produced, for the feedback."""
    parts = []
    for exhibit in item.stash.get(EVIDENCE_KEY, []):
        if isinstance(exhibit, StudentProgram):
            title = "你的程序的输出" if lang == "zh" else "your program's output"
            output = exhibit.output.strip() or ("（没有输出）" if lang == "zh" else "(nothing)")
            parts.append(f"{title} ({exhibit.script.name}, {exhibit.exit_description()}):\n"
                         + _indent(_tail(output)))
        elif isinstance(exhibit, peers.PeerServer):
            parts.extend(connection.log.render() for connection in exhibit.connections)
        elif isinstance(exhibit, peers.PeerConnection):
            parts.append(exhibit.log.render())
    if not parts:
        return ""
    heading = "\n\n评分程序看到的情况：\n" if lang == "zh" else "\n\nWhat the grader saw:\n"
    return heading + "\n".join(parts)


def _tail(text: str, lines: int = 30) -> str:
    kept = text.splitlines()
    if len(kept) > lines:
        kept = [f"... ({len(kept) - lines} earlier lines)"] + kept[-lines:]
    return "\n".join(kept)


def _indent(text: str) -> str:
    return "\n".join("  | " + line for line in text.splitlines())


def pytest_sessionfinish(session: pytest.Session) -> None:
    _save(session.config)


def _save(config: pytest.Config) -> None:
    if not _grading(config) or not config.getoption("--grader-json"):
        return
    started = getattr(config, "_grader_started", None)
    write_results(Path(config.getoption("--grader-json")), config.stash[RESULTS_KEY],
                  time.monotonic() - started if started else 0.0,
                  session_language(config.getoption("--grader-lang")))


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._grader_started = time.monotonic()  # type: ignore[attr-defined]


def results_document(results: list[CheckResult], execution_time: float,
                     lang: str = "en") -> dict:
    """Gradescope's results.json, with a few more keys (check id, lesson, program)."""
    tests = [{
        "name": result.info.title_zh if lang == "zh" and result.info.title_zh
        else result.info.title,
        "number": str(number),
        "check": result.info.check_id,
        "lesson": result.info.lesson,
        "program": result.info.program,
        "score": result.score,
        "max_score": result.info.points,
        "status": result.status,
        "output": result.feedback,
        "duration": round(result.duration, 3),
    } for number, result in enumerate(results, 1)]
    return {
        "score": sum(result.score for result in results),
        "max_score": sum(result.info.points for result in results),
        "execution_time": round(execution_time, 3),
        "tests": tests,
    }


def write_results(path: Path, results: list[CheckResult], execution_time: float,
                  lang: str = "en") -> None:
    """Write atomically: a reader sees the old file or the whole new one, never half."""
    document = results_document(results, execution_time, lang)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, path)
