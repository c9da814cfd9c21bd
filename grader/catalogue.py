"""The exercise catalogue: which exercises exist, where their checks are, what they are worth.

An exercise is one folder, ``exercises/<id>/``, with ``exercise.toml`` (title, programs),
the statement, the starter files and ``checks/test_*.py``. Adding an exercise means adding
a folder; nothing here names an exercise.

Where the folder of exercises is: ``--exercises DIR``, else ``$GRADER_EXERCISES``, else an
``exercises/`` folder in the current directory or one above it, else the one beside the
package (a checkout, installed in editable mode), else the copy installed with the package
(``tcp_grader_exercises``, beside ``grader`` in site-packages: see pyproject.toml). A folder
named explicitly (``--exercises``, ``$GRADER_EXERCISES``) that holds no exercise is an
error, never a reason to grade with other checks.
"""

from __future__ import annotations

import ast
import os
import threading
from dataclasses import dataclass
from pathlib import Path


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
class CheckInfo:
    """What a check is worth and what it is about, from its ``check`` marker."""

    check_id: str
    title: str
    points: float
    lesson: str = ""
    program: str = ""
    title_zh: str = ""
    alone: bool = False  # runs while no other check runs (it measures CPU time, a pause...)
    # an alone check that calls quiet_machine() is alone from that call on, not from its start
    asks_quiet: bool = False

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title


# The keys a ``@pytest.mark.check(...)`` may have and the types of their literal values.
MARKER_KEYS: dict[str, tuple[type, ...]] = {
    "points": (int, float), "title": (str,), "title_zh": (str,), "lesson": (str,),
    "program": (str,), "alone": (bool,),
}


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    folder: Path
    title: str
    title_zh: str
    lesson: str
    programs: tuple[str, ...]
    # sha256 of each program's starter as the kit hands it out: a submitted file with the
    # same digest has not been started, and its checks are not run.
    starters: tuple[tuple[str, str], ...] = ()
    # About how long a full-marks submission takes to grade, in seconds (``grading_seconds``
    # in exercise.toml): a kit starts its longest exercises first, so that the longest
    # one does not start last and keep the student waiting alone. Scheduling only; 0 when
    # not said (those start last, in catalogue order).
    grading_seconds: float = 0.0

    def starter_digest(self, program: str) -> str | None:
        return dict(self.starters).get(program)

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
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except (OSError, UnicodeDecodeError, SyntaxError) as error:
                raise CatalogueError(f"{path}: cannot read the checks: {error}") from error
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    marker = _check_marker(node, path)
                    if marker is not None:
                        found.append(CheckInfo(check_id=node.name, **{
                            "title": node.name, "points": 1.0, **marker,
                            "asks_quiet": _asks_quiet(node, marker, path)}))
        return found

    def check_info(self) -> dict[str, "CheckInfo"]:
        return {info.check_id: info for info in self.checks()}


def _asks_quiet(function: ast.FunctionDef, marker: dict, path: Path) -> bool:
    """Whether the check's body calls ``quiet_machine()``; only an ``alone=True`` check may
    (any other would wait for a quiet machine the schedule never planned for it)."""
    calls = any(isinstance(node, ast.Call) and ast.unparse(node.func).endswith("quiet_machine")
                for node in ast.walk(function))
    if calls and not marker.get("alone"):
        line = min([decorator.lineno for decorator in function.decorator_list],
                   default=function.lineno)
        raise CatalogueError(f"{path}:{line}: {function.name} calls quiet_machine() "
                             f"but its @pytest.mark.check does not say alone=True")
    return calls


def _check_marker(function: ast.FunctionDef, path: Path) -> dict | None:
    """The keywords of the function's ``check`` marker, validated: a typo such as
    ``point=2`` or a computed value is an error naming the file and line, never a silent
    default."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if not ast.unparse(target).endswith("mark.check"):
            continue
        where = f"{path}:{decorator.lineno}: {function.name}"
        if not isinstance(decorator, ast.Call) or decorator.args:
            raise CatalogueError(f"{where}: @pytest.mark.check takes keyword arguments only "
                                 f"({', '.join(MARKER_KEYS)})")
        marker = {}
        for keyword in decorator.keywords:
            if keyword.arg not in MARKER_KEYS:
                raise CatalogueError(f"{where}: unknown key {keyword.arg!r} in "
                                     f"@pytest.mark.check (known: {', '.join(MARKER_KEYS)})")
            try:
                value = ast.literal_eval(keyword.value)
            except ValueError as error:
                raise CatalogueError(f"{where}: the value of {keyword.arg!r} must be a "
                                     f"literal") from error
            wrong_bool = isinstance(value, bool) and bool not in MARKER_KEYS[keyword.arg]
            if not isinstance(value, MARKER_KEYS[keyword.arg]) or wrong_bool:
                raise CatalogueError(f"{where}: {keyword.arg!r} must be "
                                     f"{' or '.join(t.__name__ for t in MARKER_KEYS[keyword.arg])}")
            marker[keyword.arg] = float(value) if keyword.arg == "points" else value
        if marker.get("points", 1) <= 0:
            raise CatalogueError(f"{where}: 'points' must be more than 0")
        return marker
    return None


# The import name under which a wheel installs the top-level ``exercises/`` folder
# (``[tool.setuptools.package-dir]`` in pyproject.toml). A package of its own, beside
# ``grader`` rather than inside it, so that the grader's code fingerprint
# (``grader.fingerprint``) stays the same with or without the exercises.
INSTALLED_EXERCISES = "tcp_grader_exercises"


def _is_catalogue(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*/exercise.toml"))


def installed_exercises() -> Path:
    """Where a wheel puts the exercises: a sibling of the installed ``grader`` package."""
    return Path(__file__).resolve().parent.parent / INSTALLED_EXERCISES


def find_exercises_root(explicit: str | os.PathLike | None = None) -> Path:
    for chosen, how in ((explicit, "--exercises"),
                        (os.environ.get("GRADER_EXERCISES"), "$GRADER_EXERCISES")):
        if chosen:
            if _is_catalogue(Path(chosen)):
                return Path(chosen).resolve()
            raise CatalogueError(f"{how} {chosen}: no exercise there (no <id>/exercise.toml)")
    here = Path.cwd()
    package_parent = Path(__file__).resolve().parent.parent
    # The installed copy comes last: a kit's own exercises/ (or a teacher's) always wins.
    for candidate in (here / "exercises", here.parent / "exercises",
                      package_parent / "exercises", installed_exercises()):
        if _is_catalogue(candidate):
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
        starters=tuple(sorted(dict(manifest.get("starters", {})).items())),
        grading_seconds=_seconds(manifest.get("grading_seconds", 0), folder),
    )


def _seconds(value: object, folder: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CatalogueError(f"{folder.name}: exercise.toml: grading_seconds must be a "
                             f"number of seconds, not {value!r}")
    return float(value)


def all_exercises(root: Path) -> list[Exercise]:
    return [load_exercise(path.parent) for path in sorted(root.glob("*/exercise.toml"))]


def get_exercise(root: Path, exercise_id: str) -> Exercise:
    """The exercise with this id, or with this number (``03`` for ``03-echo-server``)."""
    for exercise in all_exercises(root):
        if exercise.exercise_id == exercise_id:
            return exercise
    numbered = [exercise for exercise in all_exercises(root)
                if exercise.exercise_id.startswith(f"{exercise_id}-")]
    if len(numbered) == 1:
        return numbered[0]
    known = ", ".join(exercise.exercise_id for exercise in all_exercises(root))
    raise CatalogueError(f"unknown exercise {exercise_id!r}; known exercises: {known}")
