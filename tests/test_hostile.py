"""Hostile submissions (tests/hostile/<case>/) graded in hardened containers, and on the
local runner wherever that is safe.

Each case attacks the grader instead of solving its exercise: fork and memory bombs, CPU
burners, endless output, a daemon that escapes its check, a forger of the results, fake
grader output, pytest hijacking, killing the grader, filling /tmp, terminal injection. For
every one the grade must still be ours, complete and bounded:

- graded within the case's documented ceiling (``bound_seconds`` in its case.toml);
- it loses points, and the results document holds exactly the exercise's checks, with the
  catalogue's names and points: nothing was forged, nothing lost;
- the rendered report holds no raw control character (ESC, NUL, BEL, CR);
- no container and no process of the grade is left;
- the attack really ran (``required``) and did not get through (``forbidden``).

``local = true`` in a case.toml: the case is also graded with the local runner (as whoever
runs the tests: as root, its programs run under a uid of their own). Never the others:
kill(-1, SIGKILL) as root on the host would kill the machine, a fork bomb, a memory bomb or
a full /tmp would take it down, the forger writes into every file it can, and 16 CPU burners
per check would starve everything else on it; each of those refuses to run outside the
grading container anyway.
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from pathlib import Path
from xml.etree import ElementTree

import pytest

import dockerwatch
from cases import EXERCISES, TOP
from grader.session.program import OUTPUT_CAP
from grader.host.report import format_table, junit_xml, safe_text
from grader.host.runners import GradeRequest, get_runner
from grader.session import containment

HOSTILE = TOP / "tests" / "hostile"
CASES = sorted(folder for folder in HOSTILE.iterdir() if (folder / "case.toml").is_file())
# Control characters a report must never show raw (newline and tab are the only ones kept).
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

LOCAL_CASES = [folder for folder in CASES
               if tomllib.loads((folder / "case.toml").read_text(encoding="utf-8")).get("local")]


def load_case(folder: Path) -> dict:
    case = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    assert case["exercise"] in EXERCISES, f"{folder.name}: unknown exercise {case['exercise']}"
    assert 0 < case["bound_seconds"] <= 300
    assert any((folder / program).is_file() for program in EXERCISES[case["exercise"]].programs)
    return case


def test_every_case_is_described():
    expected = {"fork_bomb", "memory_bomb", "cpu_burn_never_listens", "endless_printer",
                "sleeps_under_deadlines", "double_fork_daemon", "ignores_sigterm",
                "result_forger", "fake_grader_output", "pytest_hijack", "kill_parent",
                "fill_tmp", "ansi_and_script"}
    assert expected <= {folder.name for folder in CASES}
    for folder in CASES:
        case = load_case(folder)
        assert isinstance(case.get("local"), bool), f"{folder.name}: say local = true or false"
    # Never on the host: these would take it down, or write into every file they can.
    assert not {"fork_bomb", "kill_parent", "memory_bomb", "fill_tmp", "result_forger",
                "cpu_burn_never_listens"} & {folder.name for folder in LOCAL_CASES}


def request_for(folder: Path, case: dict) -> GradeRequest:
    # The session's own deadline is the bound: a grade that needs it has failed this test.
    return GradeRequest(EXERCISES[case["exercise"]], folder, "en",
                        timeout=float(case["bound_seconds"]), parallel=case.get("parallel"))


@pytest.mark.docker
@pytest.mark.parametrize("folder", CASES, ids=lambda folder: folder.name)
def test_hostile_submission_is_contained(folder, docker_engine):
    case = load_case(folder)
    watched = dockerwatch.grade(request_for(folder, case))
    assert_graded_and_contained(case, watched.document, watched.elapsed)
    # Nothing left: no container, no process of it, nothing mentioning the case's folder.
    dockerwatch.assert_nothing_left(docker_engine, watched, mentioning=folder)


@pytest.mark.parametrize("folder", LOCAL_CASES, ids=lambda folder: folder.name)
def test_hostile_submission_is_contained_locally(folder):
    case = load_case(folder)
    began = time.monotonic()
    document = get_runner("local").grade(request_for(folder, case))
    assert_graded_and_contained(case, document, time.monotonic() - began)
    # Nothing left: no process mentioning the case or its daemons, none under a student uid
    # that no grading leases now.
    left = dockerwatch.host_processes(mentioning=str(folder)) + \
        dockerwatch.host_processes(mentioning="hostile-double-fork-daemon")
    assert left == [], f"processes of the grade are still running: {left}"
    if os.geteuid() == 0:
        assert abandoned_student_processes() == {}


def abandoned_student_processes() -> dict[int, set[int]]:
    """uid -> processes, for every student uid of the local runner's range that no keeper
    leases now (others may be grading on this machine at the same time)."""
    import fcntl
    base, size = containment.DEFAULT_UID_BASE, containment.UID_RANGE
    found: dict[int, set[int]] = {}
    for uid in range(base, base + size):
        lease = containment.LEASES / f"uid-{uid}"
        if not lease.exists():
            continue
        fd = os.open(lease, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if pids := containment.processes_of_uid(uid):
                found[uid] = pids
        except BlockingIOError:
            pass  # a grading holds it now
        finally:
            os.close(fd)
    return found


def assert_graded_and_contained(case: dict, document: dict, elapsed: float) -> None:
    exercise = EXERCISES[case["exercise"]]
    bound = float(case["bound_seconds"])

    # Bounded: within the documented ceiling, and finished by itself, not by the deadline.
    assert elapsed < bound, f"graded in {elapsed:.1f} s, over {bound:.0f} s"
    outputs = "\n".join(test["output"] for test in document["tests"])
    assert "grading did not finish within" not in outputs

    # Complete and ours: exactly the exercise's checks, with the catalogue's names and points,
    # each either passed with its points or not passed with none. Nothing forged, nothing lost.
    catalogue = {check.check_id: check for check in exercise.checks()}
    checks = [test["check"] for test in document["tests"]]
    assert sorted(checks) == sorted(catalogue), "a check is missing, duplicated or made up"
    assert "this check was not reported by the grading session" not in outputs
    for test in document["tests"]:
        info = catalogue[test["check"]]
        assert test["name"] == info.title
        assert test["max_score"] == info.points
        assert test["status"] in ("passed", "failed", "not_run")
        assert test["score"] == (info.points if test["status"] == "passed" else 0)
    assert document["max_score"] == exercise.max_points()
    assert document["score"] == sum(test["score"] for test in document["tests"])
    assert document["score"] < document["max_score"]
    assert set(document) <= {"score", "max_score", "execution_time", "tests", "notes"}

    # Output bounded: a check's feedback holds at most the output cap, plus its own words.
    for test in document["tests"]:
        assert len(test["output"]) < OUTPUT_CAP + 32 * 1024, test["check"]

    # Escaped: nothing the program printed or sent reaches a terminal raw.
    table = format_table(document, f"{exercise.exercise_id}: hostile")
    assert not RAW_CONTROL.search(table.replace("\n", "")), "raw control characters in the table"
    assert "\x1b" not in safe_text(outputs) and "\x00" not in safe_text(outputs)
    ElementTree.fromstring(junit_xml(document, exercise.exercise_id))  # well-formed XML
    # Only the real checks are rows of the table; student output stays indented under them.
    rows = [line for line in table.splitlines() if re.match(r"  (PASS|FAIL|SKIP)  ", line)]
    assert len(rows) == len(catalogue)
    assert len([line for line in table.splitlines() if line.startswith("  Score: ")]) == 1

    # The attack ran, and did not get through.
    for text in case.get("required", []):
        assert text in outputs, f"{text!r} not in the feedback: did the attack run?"
    for text in case.get("forbidden", []):
        assert text not in outputs, f"{text!r} in the feedback"
