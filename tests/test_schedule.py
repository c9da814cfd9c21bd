"""Speed never changes a verdict: checks side by side (the default) give a program the
same verdicts as checks one after another, also while another exercise is being graded at
the same time on the same cores (every reference and correct program, a third of the
faulty ones; tests/test_verdicts.py grades every faulty program side by side)."""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager

import pytest

from cases import EXERCISES, TOP, Case, correct_cases, faulty_cases, reference_cases
from grader.host.runners import GradeRequest, get_runner

DOCKER = pytest.param("docker", marks=pytest.mark.docker)


def grade(case: Case, runner: str, parallel: int | None) -> dict:
    return get_runner(runner).grade(GradeRequest(case.exercise, case.folder, "en", 300,
                                                 parallel=parallel))


def verdicts(document: dict) -> tuple[float, dict[str, str]]:
    return document["score"], {test["check"]: test["status"] for test in document["tests"]}


@contextmanager
def another_exercise_graded_meanwhile(case: Case, runner: str):
    """Grade the reference of another exercise again and again while the block runs."""
    other = next(exercise for exercise in EXERCISES.values() if exercise != case.exercise)
    stop = threading.Event()

    def keep_grading():
        while not stop.is_set():
            get_runner(runner).grade(GradeRequest(other, TOP / "reference" / other.exercise_id,
                                                  "en", 300))

    load = threading.Thread(target=keep_grading, daemon=True)
    load.start()
    try:
        yield
    finally:
        stop.set()
        load.join(timeout=300)


def compare(case: Case, runner: str) -> None:
    one_by_one = grade(case, runner, parallel=1)
    with another_exercise_graded_meanwhile(case, runner):
        side_by_side = grade(case, runner, parallel=None)
    if verdicts(one_by_one) != verdicts(side_by_side):
        # A program that races with itself can come out differently in any two runs; a
        # difference the schedule makes comes out again. Grade both once more and judge
        # that pair, saying so.
        first = (verdicts(one_by_one), verdicts(side_by_side))
        one_by_one = grade(case, runner, parallel=1)
        with another_exercise_graded_meanwhile(case, runner):
            side_by_side = grade(case, runner, parallel=None)
        warnings.warn(f"{case.id}: the schedules disagreed, then were graded again: {first}")
    assert verdicts(side_by_side) == verdicts(one_by_one)


# Every reference and correct program; of the faulty programs, every third (each exercise
# is represented). Graded one after another, the faulty programs alone take about a
# quarter of an hour on 2 cores, which CI cannot spend twice over.
SAMPLED_FAULTY = faulty_cases()[::3]


@pytest.mark.parametrize("case", reference_cases() + correct_cases() + SAMPLED_FAULTY,
                         ids=lambda case: case.id)
def test_side_by_side_under_load_gives_the_verdicts_of_one_after_another(case):
    compare(case, "local")


@pytest.mark.parametrize("case", reference_cases(), ids=lambda case: case.id)
def test_in_containers_too(case, docker_engine):
    compare(case, "docker")
