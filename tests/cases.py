"""The submissions the project's tests grade, found from the folder layout alone.

- ``reference/<id>/``: the reference solution, must score full marks;
- ``tests/correct/<id>/<style>/``: correct programs in other styles, must score full marks
  on every check of the programs they contain;
- ``tests/faulty/<id>/<check>/``: a program made to fail the check ``<check>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.catalogue import Exercise, all_exercises

TOP = Path(__file__).resolve().parent.parent
EXERCISES = {exercise.exercise_id: exercise for exercise in all_exercises(TOP / "exercises")}


@dataclass(frozen=True)
class Case:
    exercise: Exercise
    folder: Path
    kind: str  # "reference", "correct" or "faulty"

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.folder.relative_to(TOP)}"

    def programs(self) -> set[str]:
        return {program for program in self.exercise.programs if (self.folder / program).is_file()}


def reference_cases() -> list[Case]:
    return [Case(EXERCISES[folder.name], folder, "reference")
            for folder in sorted((TOP / "reference").iterdir()) if folder.name in EXERCISES]


def _nested_cases(kind: str) -> list[Case]:
    cases = []
    for exercise_folder in sorted((TOP / "tests" / kind).iterdir()):
        if exercise_folder.name in EXERCISES:
            cases += [Case(EXERCISES[exercise_folder.name], folder, kind)
                      for folder in sorted(exercise_folder.iterdir()) if folder.is_dir()]
    return cases


def correct_cases() -> list[Case]:
    return _nested_cases("correct")


def faulty_cases() -> list[Case]:
    return _nested_cases("faulty")
