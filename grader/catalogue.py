"""The exercise catalogue: which exercises exist, where their checks are, what they are worth.

An exercise is one folder, ``exercises/<id>/``, with ``exercise.toml`` (title, programs),
the statement, the starter files and ``checks/test_*.py``. Adding an exercise means adding
a folder; nothing here names an exercise.

Where the folder of exercises is: ``--exercises DIR``, else ``$GRADER_EXERCISES``, else an
``exercises/`` folder in the current directory or one above it, else the one beside the
installed package (a checkout installed in editable mode).
"""

from __future__ import annotations

import ast
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .verdict import CheckInfo

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


# CPython 3.11's parser is not thread-safe: two threads in ast.parse at once can fail with
# "SystemError: AST constructor recursion depth mismatch". A batch reads the checks from
# several worker threads, so reading them is serialised.
_PARSING = threading.Lock()


class CatalogueError(Exception):
    """The exercise or the catalogue cannot be found or read."""


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    folder: Path
    title: str
    title_zh: str
    lesson: str
    programs: tuple[str, ...]

    @property
    def checks_folder(self) -> Path:
        return self.folder / "checks"

    def check_files(self) -> list[Path]:
        return sorted(self.checks_folder.glob("test_*.py"))

    def max_points(self) -> float:
        return sum(check.points for check in self.checks())

    def checks(self) -> list["CheckInfo"]:
        """The checks as their ``@pytest.mark.check`` markers declare them (read, not run)."""
        with _PARSING:
            return self._read_checks()

    def _read_checks(self) -> list["CheckInfo"]:
        found = []
        for path in self.check_files():
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    marker = _check_marker(node)
                    if marker is not None:
                        found.append(CheckInfo(
                            check_id=node.name, title=str(marker.get("title", node.name)),
                            points=float(marker.get("points", 1)),
                            lesson=str(marker.get("lesson", "")),
                            program=str(marker.get("program", "")),
                            title_zh=str(marker.get("title_zh", ""))))
        return found


def _check_marker(function: ast.FunctionDef) -> dict | None:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("mark.check"):
            try:
                return {keyword.arg: ast.literal_eval(keyword.value)
                        for keyword in decorator.keywords if keyword.arg}
            except ValueError as error:
                raise CatalogueError(
                    f"{function.name}: the arguments of @pytest.mark.check must be literals "
                    f"(line {decorator.lineno})") from error
    return None


def find_exercises_root(explicit: str | os.PathLike | None = None) -> Path:
    candidates = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("GRADER_EXERCISES"):
        candidates.append(Path(os.environ["GRADER_EXERCISES"]))
    here = Path.cwd()
    candidates += [here / "exercises", here.parent / "exercises"]
    candidates.append(Path(__file__).resolve().parent.parent / "exercises")
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*/exercise.toml")):
            return candidate.resolve()
    raise CatalogueError("no exercises folder found: run from the kit's folder, or pass "
                         "--exercises DIR, or set GRADER_EXERCISES")


def load_exercise(folder: Path) -> Exercise:
    try:
        manifest = tomllib.loads((folder / "exercise.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CatalogueError(f"{folder.name}: cannot read exercise.toml: {error}") from error
    return Exercise(
        exercise_id=folder.name,
        folder=folder,
        title=str(manifest.get("title", folder.name)),
        title_zh=str(manifest.get("title_zh", manifest.get("title", folder.name))),
        lesson=str(manifest.get("lesson", "")),
        programs=tuple(manifest.get("programs", ())),
    )


def all_exercises(root: Path) -> list[Exercise]:
    return [load_exercise(path.parent) for path in sorted(root.glob("*/exercise.toml"))]


def get_exercise(root: Path, exercise_id: str) -> Exercise:
    for exercise in all_exercises(root):
        if exercise.exercise_id == exercise_id:
            return exercise
    known = ", ".join(exercise.exercise_id for exercise in all_exercises(root))
    raise CatalogueError(f"unknown exercise {exercise_id!r}; known exercises: {known}")
