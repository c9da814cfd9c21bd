"""Where the answers to an exercise live: its reference, its correct programs in other
styles, and its faulty programs. Found from the folder layout alone, beside the exercises:

    <answers>/exercises/<id>/                   the exercise (what a student gets)
    <answers>/reference/<id>/                   the reference solution: full marks
    <answers>/tests/correct/<id>/<style>/       correct programs in other styles: full marks
                                                on every check of the programs they hold
    <answers>/tests/faulty/<id>/<check>/        a program made to fail the check <check>

``<answers>`` is the folder that holds the exercises folder (this project's top, or a
teacher's own repository laid out the same way), unless named explicitly.

Rule: this module only finds folders; it never grades nor judges (``verify`` does both).
Nothing here may end up in a student kit (``kit`` refuses any file that is one of these).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..catalogue import Exercise, installed_exercises

KINDS = ("reference", "correct", "faulty")


@dataclass(frozen=True)
class Case:
    """One program the answers hold, and what it must score."""

    exercise: Exercise
    folder: Path
    kind: str  # one of KINDS
    base: Path  # the answers folder, for short names

    @property
    def id(self) -> str:
        try:
            return f"{self.kind}:{self.folder.relative_to(self.base)}"
        except ValueError:
            return f"{self.kind}:{self.folder}"

    @property
    def target(self) -> str:
        """The check a faulty program was made to fail (its folder's name)."""
        return self.folder.name if self.kind == "faulty" else ""

    def programs(self) -> set[str]:
        """The exercise's programs this folder holds."""
        return {program for program in self.exercise.programs if (self.folder / program).is_file()}


def answers_of(exercises_root: Path, explicit: str | Path | None = None) -> Path:
    """The answers folder: given, or the one that holds the exercises folder. The copy of
    the exercises installed with the package has no answers beside it (its parent is
    site-packages): there the answers folder is the copy itself, which holds none."""
    if explicit:
        return Path(explicit).resolve()
    root = Path(exercises_root).resolve()
    return root if root == installed_exercises().resolve() else root.parent


def reference_folder(answers: Path, exercise_id: str) -> Path:
    return answers / "reference" / exercise_id


def correct_folder(answers: Path, exercise_id: str) -> Path:
    return answers / "tests" / "correct" / exercise_id


def faulty_folder(answers: Path, exercise_id: str, check_id: str = "") -> Path:
    folder = answers / "tests" / "faulty" / exercise_id
    return folder / check_id if check_id else folder


def _subfolders(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def reference_cases(exercises: Iterable[Exercise], answers: Path) -> list[Case]:
    return [Case(exercise, reference_folder(answers, exercise.exercise_id), "reference", answers)
            for exercise in exercises
            if reference_folder(answers, exercise.exercise_id).is_dir()]


def correct_cases(exercises: Iterable[Exercise], answers: Path) -> list[Case]:
    return [Case(exercise, folder, "correct", answers) for exercise in exercises
            for folder in _subfolders(correct_folder(answers, exercise.exercise_id))]


def faulty_cases(exercises: Iterable[Exercise], answers: Path) -> list[Case]:
    return [Case(exercise, folder, "faulty", answers) for exercise in exercises
            for folder in _subfolders(faulty_folder(answers, exercise.exercise_id))]


def all_cases(exercises: Iterable[Exercise], answers: Path) -> list[Case]:
    exercises = list(exercises)
    return (reference_cases(exercises, answers) + correct_cases(exercises, answers)
            + faulty_cases(exercises, answers))


def answer_folders(answers: Path) -> list[Path]:
    """Every folder of answers under ``answers`` (what must never reach a student)."""
    return [folder for folder in (answers / "reference", answers / "tests")
            if folder.is_dir()]
