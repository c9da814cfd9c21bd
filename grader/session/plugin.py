"""The pytest plugin of a grading session: options, the ``check`` marker, and the results.

Loaded explicitly with ``-p grader.session.plugin`` by the grading session (and registered
under the ``pytest11`` entry point as ``grader``). It stays inert in any pytest session that
does not pass ``--grader-submission`` (such as the project's own tests), apart from
registering its marker, its options and the fixtures of ``fixtures``.

What a check is worth comes from the catalogue (``grader.catalogue``), which reads and
validates the markers; this module never reads a marker's arguments itself. Each check's
verdict becomes a ``results.CheckResult``, and the document is rewritten atomically after
every check, so a session killed half-way still leaves what it found.

Rule: a session that cannot run the exercise's checks (a check that does not import, a
marker the catalogue rejects) writes a document that says so as a *runner error*, never a
grade of zero.
"""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import pytest

from .. import results, wire
from ..catalogue import CatalogueError, CheckInfo, Exercise, load_exercise
from ..language import LANGUAGES, Message
from . import capture, evidence, ports, schedule, steps
from .verdict import CheckFailed, CheckNotRun

pytest_plugins = ["grader.session.fixtures"]

DEFAULT_CHECK_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grading TCP socket-programming exercises")
    group.addoption("--grader-submission", metavar="DIR", default=None,
                    help="folder with the student's programs; enables grading")
    group.addoption("--grader-exercise", metavar="DIR", default=None,
                    help="the exercise's folder (default: the parent of the checks' rootdir)")
    group.addoption("--grader-copy-notes", metavar="FILE", default=None,
                    help="a JSON list of notes of an earlier copy of the submission (the "
                    "docker runner's), added to this session's own")
    group.addoption("--grader-json", metavar="FILE", default=None,
                    help="write the results here (Gradescope format)")
    group.addoption("--grader-lang", choices=LANGUAGES, default="en",
                    help="language of the feedback, chosen by the host (default: en)")
    group.addoption("--grader-check-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"hard limit for one check (default {DEFAULT_CHECK_TIMEOUT:.0f})")
    group.addoption("--grader-parallel", type=int, default=schedule.DEFAULT_PARALLEL,
                    metavar="N", help="checks run side by side, at most N at once (1: one "
                    f"after another; default {schedule.DEFAULT_PARALLEL})")
    parser.addini("grader_check_timeout", "hard limit in seconds for one check",
                  default=str(DEFAULT_CHECK_TIMEOUT))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "check(points, title, lesson='', program='', title_zh=''): a graded check "
        "worth `points`, about lesson point `lesson`, exercising the student program `program`")
    if config.getoption("--grader-submission") is not None:
        config.pluginmanager.register(Recorder(config), "grader-recorder")


def _grading(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("grader-recorder")


class Recorder:
    """The session's results as they come, and the document written from them (a plugin
    object, registered only when grading)."""

    def __init__(self, config: pytest.Config) -> None:
        self.lang: str = config.getoption("--grader-lang")
        json_path = config.getoption("--grader-json")
        self.path = Path(json_path) if json_path else None
        self.started = time.monotonic()
        self.results: dict[str, results.CheckResult] = {}
        self.notes: list[str] = []  # what the copy of the submission left out
        self.session_error = ""
        self.submission = Path(config.getoption("--grader-submission"))
        self.parallel: int = config.getoption("--grader-parallel")
        self.not_started: list[str] = []
        folder = config.getoption("--grader-exercise") or Path(str(config.rootpath)).parent
        self.exercise: Exercise | None = None
        self.checks: dict[str, CheckInfo] = {}
        try:
            self.exercise = load_exercise(Path(folder))
            self.checks = self.exercise.check_info()
        except CatalogueError as error:
            self.session_error = f"the exercise's checks cannot be read: {error}"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.session_error:
            last = (str(report.longrepr).strip().splitlines() or ["?"])[-1]
            if last.startswith("E "):  # pytest's mark for the error's own line
                last = last[1:].strip()
            self.session_error = f"a check of this exercise could not be loaded: {last}"

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        unknown = [item.nodeid for item in items
                   if item.get_closest_marker("check") and item.name not in self.checks]
        if unknown and not self.session_error:
            self.session_error = (f"{unknown[0]}: a check the catalogue does not know (a "
                                  f"check must be a top-level function of checks/test_*.py)")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        """The checks, side by side (``schedule``), except those of programs not started."""
        if session.testsfailed or session.config.option.collectonly:
            return None  # pytest's own loop reports the collection errors
        basetemp = session.config._tmp_path_factory.getbasetemp()  # once, before the forks
        ports.reserve_in(basetemp / "ports")
        self.not_started = [program for program in self.exercise.programs
                            if _is_starter(self.exercise, self.submission, program)]
        to_run = []
        for item in session.items:
            info = self.checks.get(item.name)
            if info is not None and info.program in self.not_started:
                self.results[info.check_id] = _not_started(info, self.lang)
            else:
                to_run.append(item)
        self.save()
        schedule.run_side_by_side(
            to_run, lambda item: self.checks.get(item.name, _NOT_A_CHECK).alone,
            self._run_in_child, self._receive, self.parallel)
        session.testsfailed = sum(result.status != "passed" for result in self.results.values())
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """An ``alone`` check that does not say where its measurement starts is alone from
        the start of its call."""
        info = self.checks.get(item.name, _NOT_A_CHECK)
        if info.alone and not info.asks_quiet:
            steps.quiet_machine()

    def _run_in_child(self, item: pytest.Item) -> tuple:
        self.path = None  # only the session writes the document
        capture.begin()  # before the check's fixtures: the capture sees its first SYN
        try:
            item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
        finally:
            capture.end()
        return self.results.get(item.name), self.notes

    def _receive(self, item: pytest.Item, value: tuple) -> None:
        result, notes = value
        if result is not None:
            self.results[result.info.check_id] = result
        self.notes.extend(note for note in notes if note not in self.notes)
        self.save()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if item.name not in self.checks:
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            info = self.checks[item.name]
            if info.check_id not in self.results:
                self.results[info.check_id] = _with_wire(
                    _result(item, info, call, report, self.lang), item, self.lang)
            self.notes.extend(note for note in evidence.notes(item) if note not in self.notes)
            self.save()  # after every check, so a killed session still leaves its results

    def pytest_sessionfinish(self) -> None:
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        order = [info.check_id for info in self.checks.values()]
        done = sorted(self.results.values(), key=lambda result: order.index(result.info.check_id))
        document = results.build(done, time.monotonic() - self.started, self.lang, self.notes,
                                 self.not_started)
        if self.session_error:
            document = results.complete(document, list(self.checks.values()),
                                        self.session_error, document["execution_time"],
                                        self.lang, runner_error=True)
        results.write(self.path, document, for_people=False)


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


_NOT_A_CHECK = CheckInfo("", "", 1.0)
NOT_STARTED = Message("not started: {program} is still the kit's starter, unchanged, so it was "
                      "not run. Write your program in {program}, then grade again.",
                      "尚未开始：{program} 仍是练习包里原样的起始文件，所以没有运行。"
                      "请在 {program} 中写好程序后再评分。")


def _is_starter(exercise: Exercise, submission: Path, program: str) -> bool:
    digest = exercise.starter_digest(program)
    try:
        return digest is not None and hashlib.sha256(
            (submission / program).read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _not_started(info: CheckInfo, lang: str) -> results.CheckResult:
    return results.CheckResult(info, "failed", 0.0,
                               feedback=NOT_STARTED.text(lang).format(program=info.program))


def _with_wire(result: results.CheckResult, item: pytest.Item,
               lang: str) -> results.CheckResult:
    """The check's connections as they were when its verdict was given (what the clean-up
    did after it is left out); a failed check's feedback ends with their ladders."""
    result.wire = capture.observed(evidence.grader_ports(item), evidence.ladders(item))
    if result.status == "failed" and result.wire.get("connections"):
        result.feedback += "\n\n" + wire.render_text(result.wire, lang)
    return result


def _result(item: pytest.Item, info: CheckInfo, call: pytest.CallInfo,
            report: pytest.TestReport, lang: str) -> results.CheckResult:
    if report.passed:
        return results.CheckResult(info, "passed", info.points, duration=report.duration)
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, CheckNotRun):
        return results.CheckResult(info, "not_run", 0.0, feedback=error.message.text(lang),
                                   duration=report.duration)
    if isinstance(error, CheckFailed):
        text = error.message.text(lang)
        if error.evidence:
            text += "\n" + error.evidence
    else:
        text = (("检查程序内部出错（不是你的错）：" if lang == "zh" else
                 "the check itself went wrong (not your program's fault): ")
                + f"{type(error).__name__}: {error}")
    text += evidence.render(item, lang)
    return results.CheckResult(info, "failed", 0.0, feedback=text, duration=report.duration)
