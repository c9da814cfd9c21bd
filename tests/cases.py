"""The submissions the project's tests grade, found from the folder layout alone, the way
``grader verify`` finds a teacher's (``grader.host.answers``):

- ``reference/<id>/``: the reference solution, must score full marks;
- ``tests/correct/<id>/<style>/``: correct programs in other styles, must score full marks
  on every check of the programs they contain;
- ``tests/faulty/<id>/<check>/``: a program made to fail the check ``<check>``.
"""

from __future__ import annotations

from pathlib import Path

from grader.catalogue import all_exercises
from grader.host import answers
from grader.host.answers import Case

TOP = Path(__file__).resolve().parent.parent
EXERCISES = {exercise.exercise_id: exercise for exercise in all_exercises(TOP / "exercises")}

__all__ = ["Case", "EXERCISES", "TOP", "correct_cases", "faulty_cases", "reference_cases"]


def reference_cases() -> list[Case]:
    return answers.reference_cases(EXERCISES.values(), TOP)


def correct_cases() -> list[Case]:
    return answers.correct_cases(EXERCISES.values(), TOP)


def faulty_cases() -> list[Case]:
    return answers.faulty_cases(EXERCISES.values(), TOP)
