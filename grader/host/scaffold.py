"""``grader new ID``: the folders of a new exercise, green from the first minute.

Writes, from the templates in ``templates/new/``:

    <exercises>/<id>/exercise.toml              title, title_zh, lesson, programs, [starters]
    <exercises>/<id>/README.md, README.zh.md    the statement, with its table of checks
    <exercises>/<id>/<program>                  the starter (its digest is in exercise.toml)
    <exercises>/<id>/checks/test_<stem>.py      a first check, on the public fixtures
    <answers>/reference/<id>/<program>          a reference that passes it
    <answers>/tests/faulty/<id>/<check>/<program>   a program that fails it

so that ``grader verify <id>`` holds at once, and every step a teacher takes from there
(a rule in the statement, its check, its faulty program) can be verified on its own.
Where the answers go is ``grader.host.answers``'s layout.

Rule: nothing existing is ever overwritten; a folder already there is an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from . import answers as layout

TEMPLATES = Path(__file__).resolve().parent / "templates" / "new"
FIRST_CHECK = "test_listens_within_5s"
ID_PATTERN = re.compile(r"[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*")
PROGRAM_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")


class ScaffoldError(Exception):
    """The exercise cannot be made as asked (bad id, folder already there, ...)."""


@dataclass(frozen=True)
class NewExercise:
    exercise_id: str
    program: str = "server.py"
    title: str = ""
    title_zh: str = ""
    lesson: str = ""

    def values(self, starter_digest: str = "") -> dict[str, str]:
        title = self.title or self.exercise_id.split("-", 1)[1].replace("-", " ").capitalize()
        return {"id": self.exercise_id, "program": self.program, "title": title,
                "title_zh": self.title_zh or title, "lesson": self.lesson or "?",
                "digest": starter_digest}


def _fill(template: str, values: dict[str, str]) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def _toml_text(value: str) -> str:
    """A value safe inside a TOML basic string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def create(new: NewExercise, exercises_root: Path, answers: Path) -> list[Path]:
    """Write the new exercise and its answers; the files written, in order."""
    if not ID_PATTERN.fullmatch(new.exercise_id):
        raise ScaffoldError(f"{new.exercise_id!r} is not an exercise id: use a number and a "
                            f"name, such as 08-time-server (two digits, lower case, dashes)")
    if not PROGRAM_PATTERN.fullmatch(new.program):
        raise ScaffoldError(f"{new.program!r} is not a program name: use a Python file name "
                            f"such as time_server.py")
    folder = exercises_root / new.exercise_id
    reference = layout.reference_folder(answers, new.exercise_id)
    faulty = layout.faulty_folder(answers, new.exercise_id, FIRST_CHECK)
    for path in (folder, reference, layout.faulty_folder(answers, new.exercise_id)):
        if path.exists():
            raise ScaffoldError(f"{path} already exists: choose another id, or remove it")
    values = new.values()
    starter = _fill("starter.py.tmpl", values)
    values = new.values(hashlib.sha256(starter.encode("utf-8")).hexdigest())
    toml_values = {key: _toml_text(value) for key, value in values.items()}
    files = {
        folder / "exercise.toml": Template(
            (TEMPLATES / "exercise.toml").read_text(encoding="utf-8")).substitute(toml_values),
        folder / "README.md": _fill("README.md", values),
        folder / "README.zh.md": _fill("README.zh.md", values),
        folder / new.program: starter,
        folder / "checks" / f"test_{Path(new.program).stem}.py": _fill("check.py.tmpl", values),
        reference / new.program: _fill("reference.py.tmpl", values),
        faulty / new.program: _fill("faulty.py.tmpl", values),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
