"""``grader kit``: the student kit, a folder to hand out or to make a GitHub Classroom
template repository of.

    KIT/README.md, README.zh.md         how to run it and how to read the feedback
    KIT/tox.ini                         `tox` grades every exercise, the grader pinned:
    KIT/wheels/tcp_grader-V-...whl      the grader's wheel, which tox installs from here
    KIT/.github/workflows/grade.yml     GitHub Classroom: grades on every push
    KIT/.gitignore
    KIT/exercises/<id>/                 statement, starters, checks, exercise.toml

Rule 1: no answer goes in. The kit copies the exercise folders only (without bytecode),
and before it is written refuses any file, inside the wheel too, whose bytes are those of a
file of the answers folder (``answers``: references, correct and faulty programs, the
project's tests).
Rule 2: a kit is written whole or not at all: it is put together beside ``--out`` and moved
there at the end; an ``--out`` that exists and is not empty is an error.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path
from string import Template

from ..catalogue import Exercise
from . import answers as layout
from . import wheel as grader_wheel
from .report import points

TEMPLATES = Path(__file__).resolve().parent / "templates" / "kit"
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache")
WORKFLOW = Path(".github") / "workflows" / "grade.yml"


class KitError(Exception):
    """The kit cannot be written as asked."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def answer_digests(answers: Path) -> dict[str, Path]:
    """The digest of every non-empty file of the answers, and one path that has it."""
    found: dict[str, Path] = {}
    for folder in layout.answer_folders(answers):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                data = path.read_bytes()
                if data.strip():  # an empty file is nobody's answer
                    found.setdefault(_digest(data), path)
    return found


def kit_contents(kit: Path):
    """(name, bytes) of every file of the kit, and of every member of its wheels."""
    for path in sorted(kit.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(kit).as_posix()
        yield name, path.read_bytes()
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{name}!{member}", archive.read(member)


def leaked_answers(kit: Path, answers: Path) -> list[str]:
    """Files of the kit that are answers: ``kit file = answer file``, one per line."""
    known = answer_digests(answers)
    return [f"{name} = {known[_digest(data)]}" for name, data in kit_contents(kit)
            if data.strip() and _digest(data) in known]


def _table_rows(exercises: list[Exercise], lang: str) -> str:
    rows = []
    for exercise in exercises:
        title = exercise.title_zh if lang == "zh" else exercise.title
        statement = "README.zh.md" if lang == "zh" else "README.md"
        programs = ", ".join(f"`{program}`" for program in exercise.programs)
        rows.append(f"| `{exercise.exercise_id}` {title} | {programs} | "
                    f"{points(exercise.max_points())} | "
                    f"[{statement}](exercises/{exercise.exercise_id}/{statement}) |")
    return "\n".join(rows)


def _write(kit: Path, exercises: list[Exercise], wheel: Path | None) -> None:
    for exercise in exercises:
        shutil.copytree(exercise.folder, kit / "exercises" / exercise.exercise_id,
                        ignore=LEFT_OUT)
    shipped = (grader_wheel.take(wheel, kit / "wheels") if wheel else
               grader_wheel.build(kit / "wheels", exercises))
    values = {"version": grader_wheel.wheel_version(shipped), "wheel": shipped.name}
    for name, lang in (("README.md", "en"), ("README.zh.md", "zh")):
        text = Template((TEMPLATES / name).read_text(encoding="utf-8"))
        (kit / name).write_text(text.substitute(values, exercises=_table_rows(exercises, lang)),
                                encoding="utf-8")
    tox = Template((TEMPLATES / "tox.ini").read_text(encoding="utf-8")).substitute(values)
    (kit / "tox.ini").write_text(tox, encoding="utf-8")
    (kit / WORKFLOW).parent.mkdir(parents=True)
    shutil.copy2(TEMPLATES / "grade.yml", kit / WORKFLOW)
    shutil.copy2(TEMPLATES / "gitignore", kit / ".gitignore")


def write_kit(exercises: list[Exercise], out: Path, answers: Path,
              wheel: Path | None = None) -> Path:
    """Write the kit of ``exercises`` to ``out``; ``wheel``: the grader's wheel to ship
    (default: built from this grader's source tree)."""
    if not exercises:
        raise KitError("no exercise to put in the kit")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise KitError(f"{out} already exists and is not empty: choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _write(staging, exercises, wheel)
        leaks = leaked_answers(staging, answers)
        if leaks:
            raise KitError("these files of the kit are answers, so no kit was written:\n  "
                           + "\n  ".join(leaks))
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except grader_wheel.WheelError as error:
        raise KitError(str(error)) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
