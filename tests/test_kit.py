"""``grader kit``: a student kit without the answers, whose ``tox`` installs the grader from
the wheel the kit carries, on a machine that has nothing but a Python and tox."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cases import EXERCISES, TOP
from test_package import PIP_TIMEOUT, clean_environment, fresh_venv

from grader import __version__
from grader.host.kit import KitError, write_kit

STARTED = "02-tcp-server"  # the test hands in its reference
UNTOUCHED = "08-time-server"  # left as the kit's starter


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def everything_in(kit: Path):
    """(name, bytes) of every file of the kit and of every member of the wheels in it."""
    for path in sorted(kit.rglob("*")):
        if path.is_file():
            yield path.relative_to(kit).as_posix(), path.read_bytes()
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        yield f"{path.name}!{member}", archive.read(member)


def answers_of_this_project() -> dict[str, Path]:
    """The digest of every non-empty file under reference/ and tests/."""
    return {digest(path.read_bytes()): path
            for folder in (TOP / "reference", TOP / "tests") for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.read_bytes().strip()}


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kit") / "tcp-kit"
    made = subprocess.run([sys.executable, "-m", "grader", "kit", "--out", str(out),
                           STARTED, UNTOUCHED], cwd=TOP, text=True, capture_output=True,
                          timeout=PIP_TIMEOUT, env=clean_environment())
    assert made.returncode == 0, made.stdout + made.stderr
    assert "wheels/tcp_grader-" in made.stdout
    return out


def test_the_kit_holds_the_exercises_and_what_runs_them(kit):
    for exercise_id in (STARTED, UNTOUCHED):
        exercise = EXERCISES[exercise_id]
        shipped = kit / "exercises" / exercise_id
        for name in ["exercise.toml", "README.md", "README.zh.md", *exercise.programs]:
            assert (shipped / name).read_bytes() == (exercise.folder / name).read_bytes()
        for check_file in exercise.check_files():
            assert (shipped / "checks" / check_file.name).read_bytes() == check_file.read_bytes()
    assert sorted(path.name for path in (kit / "exercises").iterdir()) == [STARTED, UNTOUCHED]
    for name in ("README.md", "README.zh.md", "tox.ini", ".gitignore",
                 ".github/workflows/grade.yml"):
        assert (kit / name).is_file(), name
    (wheel,) = (kit / "wheels").glob("tcp_grader-*.whl")
    assert f"wheels/{wheel.name}" in (kit / "tox.ini").read_text()
    for readme in ("README.md", "README.zh.md"):
        text = (kit / readme).read_text(encoding="utf-8")
        assert "tox -- 03" in text and STARTED in text and UNTOUCHED in text
    assert not list(kit.rglob("__pycache__"))


def test_no_answer_is_in_the_kit(kit):
    answers = answers_of_this_project()
    leaked = [f"{name} = {answers[digest(data)]}" for name, data in everything_in(kit)
              if data.strip() and digest(data) in answers]
    assert leaked == []
    files = [name for name, _data in everything_in(kit) if "!" not in name]
    assert not [name for name in files if {"reference", "tests", "faulty", "correct"}
                & set(name.split("/"))]
    # The wheel holds the grader and the kit's exercises, nothing else of the repository.
    members = [name.split("!", 1)[1] for name, _data in everything_in(kit) if "!" in name]
    assert {member.split("/")[0] for member in members} <= {
        "grader", "tcp_grader_exercises", f"tcp_grader-{__version__}.dist-info"}
    assert {member.split("/")[1] for member in members
            if member.startswith("tcp_grader_exercises/")} == {STARTED, UNTOUCHED}


def test_the_kit_grades_with_its_own_grader_in_a_fresh_environment(kit, tmp_path):
    bin_folder = fresh_venv(tmp_path / "venv")
    env = clean_environment()
    subprocess.run([str(bin_folder / "pip"), "install", "-q", "tox"], check=True,
                   timeout=PIP_TIMEOUT, env=env)
    shutil.copytree(TOP / "reference" / STARTED, kit / "exercises" / STARTED,
                    dirs_exist_ok=True)
    results = kit / "results.json"
    graded = subprocess.run([str(bin_folder / "tox"), "--", "--json", str(results)],
                            cwd=kit, env=env, text=True, capture_output=True,
                            timeout=PIP_TIMEOUT)
    assert graded.returncode == 1, graded.stdout[-3000:] + graded.stderr[-3000:]
    documents = json.loads(results.read_text(encoding="utf-8"))["exercises"]
    full = documents[STARTED]
    assert full["score"] == full["max_score"] == EXERCISES[STARTED].max_points()
    untouched = documents[UNTOUCHED]
    assert untouched["score"] == 0 and untouched["not_started"] == ["time_server.py"]
    lines = graded.stdout.splitlines()
    assert any(line.split()[:1] == [STARTED] and line.endswith("full marks") for line in lines)
    assert any(line.split()[:1] == [UNTOUCHED] and line.endswith("not started")
               for line in lines)
    # The grader that graded is the kit's wheel, installed by tox, not this checkout.
    installed = list((kit / ".tox" / "grade").glob("lib/python*/site-packages"))
    assert installed and (installed[0] / "grader" / "__init__.py").is_file()
    assert not list(installed[0].glob("__editable__*"))


def test_the_classroom_workflow_in_docs_is_the_kits():
    kit_workflow = TOP / "grader" / "host" / "templates" / "kit" / "grade.yml"
    assert (TOP / "docs" / "github-classroom.yml").read_bytes() == kit_workflow.read_bytes()


def test_a_kit_that_would_hold_an_answer_is_not_written(tmp_path):
    teacher = tmp_path / "teacher"
    shutil.copytree(EXERCISES[STARTED].folder, teacher / "exercises" / STARTED,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TOP / "reference" / STARTED, teacher / "reference" / STARTED)
    # A teacher who left the solution beside the starter.
    shutil.copy2(TOP / "reference" / STARTED / "server.py",
                 teacher / "exercises" / STARTED / "solution.py")
    wheel = tmp_path / "tcp_grader-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("grader/__init__.py", "__version__ = '0.1.0'\n")
    from grader.catalogue import all_exercises
    out = tmp_path / "kit"
    with pytest.raises(KitError) as refused:
        write_kit(all_exercises(teacher / "exercises"), out, teacher, wheel)
    assert f"exercises/{STARTED}/solution.py" in str(refused.value)
    assert not out.exists() and not list(tmp_path.glob(".kit.partial-*"))
