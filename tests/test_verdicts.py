"""Every verdict, both ways: correct programs score full marks, each faulty program loses
the points of the check it was written to fail (design principle 5).

The judgements are ``grader verify``'s own (``grader.host.verify``): what the project
proves of its exercises is what a teacher's ``grader verify`` proves of theirs. One test per
program, so a failure names the program and says what its grade got wrong."""

from __future__ import annotations

import pytest

from cases import EXERCISES, correct_cases, faulty_cases, reference_cases
from grader.host import verify


@pytest.mark.parametrize("case", reference_cases(), ids=lambda case: case.id)
def test_reference_scores_full_marks(case, graded):
    assert verify.judge(case, graded(case)) == []


@pytest.mark.parametrize("case", correct_cases(), ids=lambda case: case.id)
def test_correct_program_in_another_style_scores_full_marks(case, graded):
    assert verify.judge(case, graded(case)) == []


@pytest.mark.parametrize("case", faulty_cases(), ids=lambda case: case.id)
def test_faulty_program_fails_its_check(case, graded):
    assert verify.judge(case, graded(case)) == []


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_check_has_a_faulty_program(exercise_id):
    assert verify.coverage(EXERCISES[exercise_id], faulty_cases()) == []


def test_every_exercise_has_a_reference():
    assert {case.exercise.exercise_id for case in reference_cases()} == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_statements_name_every_check(exercise_id):
    assert verify.statement_problems(EXERCISES[exercise_id]) == []
