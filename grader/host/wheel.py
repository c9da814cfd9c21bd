"""The grader's wheel for a student kit: the one file a fresh machine installs it from.

No package index has tcp-grader, so a kit carries its grader: either a wheel the teacher
names (``--wheel FILE``: the one they installed from, or one they built), or one built
now, with pip, from the source tree this grader runs from (a checkout: pyproject.toml
beside the package). The build works on a scratch copy of that tree, so the checkout is
left as it was (pip builds in the source folder: build/, *.egg-info), and that copy holds
only the kit's exercises, so the wheel carries no exercise the kit does not hand out.

Rule: nothing here downloads the grader. Only setuptools, the build backend, may come from
the package index, when the running Python lacks it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Iterable

from ..catalogue import Exercise

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DISTRIBUTION = "tcp-grader"
SOURCE = Path(__file__).resolve().parents[2]  # the folder that holds the grader package
# What pyproject.toml reads to build the wheel; the exercises are the kit's alone.
SOURCE_FILES = ("pyproject.toml", "README.md")
SOURCE_FOLDERS = ("grader",)
WHEEL_NAME = re.compile(r"tcp_grader-(?P<version>[^-]+)-.*\.whl")
BUILD_TIMEOUT = 600.0
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build")


class WheelError(Exception):
    """No wheel of the grader can be had here (not a checkout, the build failed, ...)."""


def wheel_version(path: Path) -> str:
    """The version of a tcp-grader wheel, from its name; an error if it is not one."""
    match = WHEEL_NAME.fullmatch(path.name)
    if not match or not zipfile.is_zipfile(path):
        raise WheelError(f"{path} is not a wheel of tcp-grader (tcp_grader-VERSION-...whl)")
    return match["version"]


def source_tree() -> Path | None:
    """The checkout this grader runs from, or None when it is installed from a wheel."""
    try:
        project = tomllib.loads((SOURCE / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return SOURCE if project.get("project", {}).get("name") == DISTRIBUTION else None


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _backend_here() -> bool:
    """Whether this Python can build the wheel itself (no build isolation, no download):
    setuptools 62.3 or later, and the ``wheel`` package where setuptools is older than 70.1
    (which has bdist_wheel built in)."""
    try:
        setuptools = _version_tuple(metadata.version("setuptools"))
    except metadata.PackageNotFoundError:
        return False
    if setuptools < (62, 3):
        return False
    if setuptools >= (70, 1):
        return True
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return False
    return True


def build(out: Path, exercises: Iterable[Exercise]) -> Path:
    """Build the grader's wheel into ``out``, carrying ``exercises``; its path."""
    source = source_tree()
    if source is None:
        raise WheelError("this grader is installed from a wheel, not run from its source "
                         "tree: name the wheel to put in the kit with --wheel FILE (the one "
                         "you installed, or `pip wheel CHECKOUT --no-deps -w DIR`)")
    with tempfile.TemporaryDirectory(prefix="tcp-grader-wheel-") as scratch:
        copy, dist = Path(scratch) / "source", Path(scratch) / "dist"
        copy.mkdir()
        for name in SOURCE_FILES:
            shutil.copy2(source / name, copy / name)
        for name in SOURCE_FOLDERS:
            shutil.copytree(source / name, copy / name, ignore=LEFT_OUT)
        (copy / "exercises").mkdir()
        for exercise in exercises:
            shutil.copytree(exercise.folder, copy / "exercises" / exercise.exercise_id,
                            ignore=LEFT_OUT)
        command = [sys.executable, "-m", "pip", "wheel", str(copy), "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-w", str(dist)]
        if _backend_here():
            command.append("--no-build-isolation")
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise WheelError(f"pip did not build the grader's wheel within "
                             f"{BUILD_TIMEOUT:.0f} s") from error
        built = sorted(dist.glob("tcp_grader-*.whl"))
        if done.returncode != 0 or len(built) != 1:
            raise WheelError(f"pip could not build the grader's wheel ({' '.join(command)}):\n"
                             f"{(done.stdout + done.stderr)[-2000:]}")
        out.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(built[0], out / built[0].name))


def take(wheel: Path, out: Path) -> Path:
    """Put the teacher's own wheel into ``out``; its path there."""
    wheel_version(wheel)
    out.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(wheel, out / wheel.name))
