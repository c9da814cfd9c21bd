"""The exercises ship with the package: a wheel built from the repository, installed into
an empty virtual environment, grades from any folder, with the exercises it carries; and
``--exercises`` still points at a teacher's own folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from cases import EXERCISES, TOP

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from grader.host.wheel import LEFT_OUT, _backend_here

EXERCISE = "03-echo-server"
PIP_TIMEOUT = 900


def clean_environment() -> dict[str, str]:
    """This machine's environment without what would point the grader at this checkout."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("GRADER_", "PYTHON", "VIRTUAL_ENV", "TOX_"))}


def build_wheel(into: Path, scratch: Path) -> Path:
    """``pip wheel . --no-deps`` of a copy of the repository (pip builds in the source
    folder: the checkout is left alone)."""
    source = scratch / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(TOP / name, source / name)
    for name in ("grader", "exercises"):
        shutil.copytree(TOP / name, source / name, ignore=LEFT_OUT)
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
               "-w", str(into)]
    if _backend_here():
        command.append("--no-build-isolation")
    subprocess.run(command, check=True, timeout=PIP_TIMEOUT, env=clean_environment())
    (wheel,) = into.glob("tcp_grader-*.whl")
    return wheel


def fresh_venv(folder: Path) -> Path:
    """An empty virtual environment (no system site-packages); its bin folder."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    return folder / "bin"


def test_pyproject_lists_every_folder_of_the_grader():
    # The package list is explicit (the exercises are a mapped folder): a folder of grader/
    # left out of it would be missing from the wheel.
    setuptools = tomllib.loads((TOP / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    for folder in [TOP / "grader"] + sorted((TOP / "grader").rglob("*")):
        if folder.is_dir() and folder.name != "__pycache__" and any(
                path.is_file() for path in folder.iterdir()):
            name = ".".join(folder.relative_to(TOP).parts)
            assert name in listed, f"{name} is not in [tool.setuptools] packages"
    assert setuptools["package-dir"]["tcp_grader_exercises"] == "exercises"


def test_an_installed_wheel_grades_from_any_folder(tmp_path):
    wheel = build_wheel(tmp_path / "dist", tmp_path)
    bin_folder = fresh_venv(tmp_path / "venv")
    env = clean_environment()
    subprocess.run([str(bin_folder / "pip"), "install", "-q", str(wheel)], check=True,
                   timeout=PIP_TIMEOUT, env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def grader(*args: str, cwd: Path = elsewhere) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_folder / "grader"), *args], cwd=cwd, env=env,
                              text=True, capture_output=True, timeout=600)

    where = subprocess.run([str(bin_folder / "python"), "-c", "import grader; "
                            "print(grader.__file__)"], cwd=elsewhere, env=env, text=True,
                           capture_output=True, check=True).stdout
    assert Path(where).resolve().is_relative_to(tmp_path / "venv"), where

    listed = grader("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == sorted(EXERCISES)

    submission = tmp_path / "submission"
    shutil.copytree(TOP / "reference" / EXERCISE, submission)
    results = tmp_path / "results.json"
    graded = grader("check", EXERCISE, str(submission), "--json", str(results))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    document = json.loads(results.read_text(encoding="utf-8"))
    assert document["score"] == document["max_score"] == EXERCISES[EXERCISE].max_points()

    # An installed grader has no source tree to build a kit's wheel from: it asks for the
    # wheel, and ships the one it is given.
    no_wheel = grader("kit", "--out", str(tmp_path / "kit-a"), EXERCISE)
    assert no_wheel.returncode == 2 and "--wheel" in no_wheel.stderr
    assert not (tmp_path / "kit-a").exists()
    kit = grader("kit", "--out", str(tmp_path / "kit-b"), EXERCISE, "--wheel", str(wheel))
    assert kit.returncode == 0, kit.stderr
    assert (tmp_path / "kit-b" / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()

    # A teacher's own folder, made by the installed grader's `new` (its templates are in
    # the wheel too), is chosen with --exercises and verified there.
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    made = grader("new", "09-hello", cwd=teacher)
    assert made.returncode == 0, made.stderr
    own = grader("--exercises", str(teacher / "exercises"), "list")
    assert [line.split()[0] for line in own.stdout.splitlines()] == ["09-hello"]
    verified = grader("verify", "09-hello", cwd=teacher)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified: all" in verified.stdout


@pytest.mark.parametrize("variable", ["--exercises", "GRADER_EXERCISES"])
def test_an_explicit_folder_without_exercises_is_an_error(tmp_path, variable):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    if variable == "--exercises":
        command, env = ["--exercises", str(empty), "list"], clean_environment()
    else:
        command, env = ["list"], dict(clean_environment(), GRADER_EXERCISES=str(empty))
    result = subprocess.run([sys.executable, "-m", "grader", *command], cwd=TOP, env=env,
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert str(empty) in result.stderr and "no exercise there" in result.stderr
