"""``grader batch`` with its default runner: a class of 100 graded in containers.

What "done" means to an instructor: every student's result, and its row in grades.csv,
match what ``grader check`` gives the same program; the page shows every student; a batch
killed half-way with SIGKILL (nothing of it gets to clean up) leaves no container behind,
and the same command then finishes the class with no duplicate and no lost result; an
engine that crashes mid-batch costs no result, and the next run grades what it spoiled.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from cases import TOP, Case, correct_cases, faulty_cases, reference_cases
from dockerwatch import IMAGE
from engineproxy import EngineProxy
from grader.host.batch import BATCH_LABEL, batch_label
from grader.host.runners import GradeRequest, get_runner
from grader.results import RUNNER_ERROR
from grader.session.waiting import wait_until

pytestmark = pytest.mark.docker

EXERCISE = "02-tcp-server"
CLASS_SIZE = 100
CLASS_DEADLINE = 1800  # seconds; the class takes about 4 minutes with -j 2 on 2 cores


def _of_exercise(cases: list[Case]) -> list[Case]:
    return [case for case in cases if case.exercise.exercise_id == EXERCISE]


@pytest.fixture(scope="module")
def big_class(tmp_path_factory) -> tuple[Path, dict[str, Case]]:
    """100 students: two in three hand in a correct program (the reference or another
    style), one in three a faulty one (every check's faulty program, several times)."""
    root = tmp_path_factory.mktemp("class")
    good = _of_exercise(reference_cases() + correct_cases())
    faulty = _of_exercise(faulty_cases())
    roster = {f"student{number:03d}": faulty[number // 3 % len(faulty)] if number % 3 == 2
              else good[number % len(good)] for number in range(CLASS_SIZE)}
    hand_in(root, roster)
    return root, roster


def hand_in(root: Path, roster: dict[str, Case]) -> None:
    """One folder per student under ``root``, a copy of the program the roster gives."""
    for student, case in roster.items():
        shutil.copytree(case.folder, root / student)


def batch_command(root: Path, out: Path) -> list[str]:
    """``grader batch`` with its default runner, docker, and two workers."""
    return [sys.executable, "-m", "grader", "batch", EXERCISE, str(root), "--out", str(out),
            "-j", "2", "--image", IMAGE]


def finished(out: Path) -> list[Path]:
    return list(out.glob("*/results.json"))


def containers_of(engine, out: Path) -> list:
    return engine.containers.list(all=True, ignore_removed=True,
                                  filters={"label": f"{BATCH_LABEL}={batch_label(out)}"})


def scores(document: dict) -> list[tuple[str, float]]:
    return sorted((test["check"], test["score"]) for test in document["tests"])


def assert_same_as_grader_check(document: dict, case: Case, graded, student: str) -> None:
    """The batch's scores are those `grader check` gives the same program. A faulty program
    that races with itself can come out differently in any two gradings, under load more
    often; a difference the batch makes comes out again. So on a difference the program is
    graded once more in a container, and that grade decides, saying so."""
    if scores(document) == scores(graded(case)):
        return
    again = get_runner("docker").grade(GradeRequest(case.exercise, case.folder, "en", 300,
                                                    IMAGE))
    warnings.warn(f"{student} ({case.id}): the batch and grader check disagreed, graded again")
    assert scores(document) == scores(again), f"{student} ({case.id})"


def test_a_class_killed_half_way_finishes_and_matches_grader_check(
        big_class, graded, docker_engine, tmp_path):
    root, roster = big_class
    out = tmp_path / "out"
    command = batch_command(root, out)
    first = subprocess.Popen(command, cwd=TOP, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(lambda: len(finished(out)) >= CLASS_SIZE // 2, CLASS_DEADLINE)
        assert wait_until(lambda: containers_of(docker_engine, out), 60), \
            "no grading container to leave behind"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert wait_until(lambda: not containers_of(docker_engine, out), 60), \
        "the killed batch left containers behind"
    kept = {path: path.stat().st_mtime_ns for path in finished(out)}
    assert CLASS_SIZE // 2 <= len(kept) < CLASS_SIZE
    for path in kept:
        json.loads(path.read_text(encoding="utf-8"))  # whole documents only, never half

    second = subprocess.run(command, cwd=TOP, text=True, capture_output=True,
                            timeout=CLASS_DEADLINE)
    assert second.returncode == 0, second.stderr
    assert f"{len(kept)} students already graded" in second.stderr
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items()), \
        "a finished result was graded again"
    assert containers_of(docker_engine, out) == []

    table = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8"))))
    assert sorted(row["student"] for row in table) == sorted(roster), "a duplicate or lost row"
    rows = {row["student"]: row for row in table}
    page = (out / "report.html").read_text(encoding="utf-8")
    for student, case in roster.items():
        document = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert_same_as_grader_check(document, case, graded, student)
        assert document["attempts"] == 1 and "grading_error" not in document, student
        assert float(rows[student]["score"]) == document["score"]
        assert all(float(rows[student][check]) == score for check, score in scores(document))
        assert f">{student}<" in page, f"{student} is missing from report.html"


def test_a_crashed_engine_loses_nothing_and_the_next_run_grades_the_rest(
        graded, docker_engine, tmp_path):
    root = tmp_path / "class"
    good = _of_exercise(reference_cases())[0]
    faulty = _of_exercise(faulty_cases())
    roster = {f"s{number}": good if number % 2 else faulty[number] for number in range(8)}
    hand_in(root, roster)
    out = tmp_path / "out"
    proxy = EngineProxy(tmp_path / "engine.sock").start()
    command = batch_command(root, out)
    env = dict(os.environ, DOCKER_HOST=proxy.url)
    first = subprocess.Popen(command, cwd=TOP, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: finished(out) and containers_of(docker_engine, out), 300), \
            "the batch never got going"
    finally:
        proxy.crash()
    _out, err = first.communicate(timeout=600)
    assert first.returncode == 1, err
    assert "could not be graded because the runner failed" in err
    documents = {path.parent.name: json.loads(path.read_text(encoding="utf-8"))
                 for path in finished(out)}
    assert sorted(documents) == sorted(roster), "a student was lost when the engine crashed"
    failed = sorted(name for name, document in documents.items() if RUNNER_ERROR in document)
    assert failed, "no grading was hit by the crash"
    for name in failed:
        assert documents[name]["attempts"] == 2  # retried once, before giving up
        assert "grading failed" in documents[name]["tests"][0]["output"]

    proxy.start()  # the engine is back
    second = subprocess.run(command, cwd=TOP, env=env, text=True, capture_output=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"{len(roster) - len(failed)} students already graded" in second.stderr
    assert wait_until(lambda: not containers_of(docker_engine, out), 60), \
        "containers the crash left behind were not removed"
    for student, case in roster.items():
        document = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert RUNNER_ERROR not in document
        assert_same_as_grader_check(document, case, graded, student)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_removes_its_containers_before_it_exits(
        signum, docker_engine, tmp_path):
    root = tmp_path / "class"
    good = _of_exercise(reference_cases())[0]
    hand_in(root, {f"s{number}": good for number in range(4)})
    out = tmp_path / "out"
    command = batch_command(root, out)
    first = subprocess.Popen(
        command, cwd=TOP, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ignored here
    try:
        assert wait_until(lambda: containers_of(docker_engine, out), 120), \
            "no grading container showed up"
        first.send_signal(signum)
        _out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 130, err
    assert "interrupted" in err
    assert containers_of(docker_engine, out) == [], "the batch exited leaving containers"
    for path in finished(out):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["score"] == good.exercise.max_points()  # never a half grade
    second = subprocess.run(command, cwd=TOP, text=True, capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert sorted(path.parent.name for path in finished(out)) == [f"s{n}" for n in range(4)]
