"""Every verdict, both ways: correct programs score full marks, each faulty program loses
the points of the check it was written to fail (design principle 5)."""

from __future__ import annotations

import pytest

from cases import correct_cases, faulty_cases, reference_cases, EXERCISES
from conftest import failed_checks


@pytest.mark.parametrize("case", reference_cases(), ids=lambda case: case.id)
def test_reference_scores_full_marks(case, graded):
    document = graded(case)
    assert failed_checks(document) == {}
    assert document["score"] == document["max_score"] == case.exercise.max_points()


@pytest.mark.parametrize("case", correct_cases(), ids=lambda case: case.id)
def test_correct_program_in_another_style_scores_full_marks(case, graded):
    document = graded(case)
    present = case.programs()
    assert present, f"{case.folder} holds none of {case.exercise.programs}"
    lost = {check: output for check, output in failed_checks(document).items()
            if _program_of(document, check) in present}
    assert lost == {}


@pytest.mark.parametrize("case", faulty_cases(), ids=lambda case: case.id)
def test_faulty_program_fails_its_check(case, graded):
    document = graded(case)
    target = case.folder.name
    checks = {test["check"]: test for test in document["tests"]}
    assert target in checks, f"{target} is not a check of {case.exercise.exercise_id}"
    assert checks[target]["status"] == "failed"
    assert checks[target]["score"] == 0
    assert checks[target]["output"].strip(), "a failed check must say what was observed"
    assert document["score"] < document["max_score"]


def test_every_check_has_a_faulty_program():
    covered = {(case.exercise.exercise_id, case.folder.name) for case in faulty_cases()}
    for exercise_id, exercise in EXERCISES.items():
        for check in exercise.checks():
            assert (exercise_id, check.check_id) in covered, \
                f"no program under tests/faulty/{exercise_id}/{check.check_id}"


def test_every_exercise_has_a_reference():
    assert {case.exercise.exercise_id for case in reference_cases()} == set(EXERCISES)


def _program_of(document: dict, check: str) -> str:
    return next(test["program"] for test in document["tests"] if test["check"] == check)
