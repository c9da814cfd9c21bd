"""``grader batch``: a class graded in one command, resumable, nothing lost, bad input
handled with a message and a result."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile

import pytest

from cases import EXERCISES, TOP
from dockerwatch import host_processes
from grader.host.runners import GradeRequest, get_runner
from grader.session.waiting import wait_until

EXERCISE = "02-tcp-server"
REFERENCE = TOP / "reference" / EXERCISE
FAULTY = TOP / "tests" / "faulty" / EXERCISE / "test_replies_thank_you"
HUNG = TOP / "tests" / "faulty" / EXERCISE / "test_listens_within_5s"
FULL = EXERCISES[EXERCISE].max_points()
# The faulty program loses exactly the points of test_replies_thank_you.
BOB = FULL - EXERCISES[EXERCISE].check_info()["test_replies_thank_you"].points


def batch(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "batch", *args], cwd=TOP,
                          text=True, capture_output=True, timeout=900, **kwargs)


def read_csv(out) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(
        (out / "grades.csv").read_text(encoding="utf-8")))}


@pytest.fixture
def bad_class(tmp_path):
    """A class with every kind of trouble an instructor meets."""
    root = tmp_path / "class"
    root.mkdir()
    shutil.copytree(REFERENCE, root / "alice")
    shutil.copytree(FAULTY, root / "bob")
    (root / "empty").mkdir()
    (root / "a_file").write_text("not a folder")
    os.symlink("/etc", root / "link_out")
    odd = os.path.join(os.fsencode(root), b"odd\xff\x1b[31mname")
    os.mkdir(odd)
    shutil.copy(REFERENCE / "server.py", os.fsdecode(os.path.join(odd, b"server.py")))
    (root / "huge").mkdir()
    (root / "huge" / "server.py").write_bytes(b"#" * (2 * 1024 * 1024))
    (root / "latin1").mkdir()
    (root / "latin1" / "server.py").write_bytes("print('caf\xe9')\n".encode("latin-1"))
    (root / "script").mkdir()
    shutil.copy(REFERENCE / "server.py", root / "script" / "server.py")
    (root / "script" / "notes.txt").write_text("<script>alert(1)</script>")
    return root


def test_a_bad_class_is_graded_with_a_result_per_student(bad_class, tmp_path):
    out = tmp_path / "out"
    result = batch(EXERCISE, str(bad_class), "--out", str(out), "--runner", "local", "-j", "2")
    assert result.returncode == 0, result.stderr
    rows = read_csv(out)
    assert len(rows) == 9
    assert rows["alice"]["score"] == f"{FULL:g}" and rows["alice"]["status"] == "graded"
    assert rows["bob"]["score"] == f"{BOB:g}" and rows["bob"]["test_replies_thank_you"] == "0"
    assert rows["empty"]["score"] == "0"
    assert rows["a_file"]["status"].startswith("not graded: ") and "not a folder" in rows["a_file"]["status"]
    assert "link" in rows["link_out"]["status"]
    assert rows["huge"]["score"] == "0" and rows["latin1"]["score"] == "0"
    odd = next(name for name in rows if name.startswith("odd"))
    assert "\x1b" not in odd and rows[odd]["score"] == f"{FULL:g}"
    notes = json.loads((out / "huge" / "results.json").read_text())["notes"]
    assert any("limit" in note for note in notes)
    page = (out / "report.html").read_text(encoding="utf-8")
    # One script, the page's own (sort, filter); nothing a student sent runs or loads.
    assert page.count("<script") == 1 and "<script>\n// Inline and self-contained" in page
    assert " src=" not in page and "alert(1)" not in page and "\x1b" not in page
    for name in ("alice", "bob", "empty", "a_file", "link_out", "huge", "latin1", "script"):
        assert name in page


def test_batch_matches_grader_check_student_by_student(tmp_path):
    root = tmp_path / "class"
    for name, folder in (("ref", REFERENCE), ("faulty", FAULTY)):
        shutil.copytree(folder, root / name)
    out = tmp_path / "out"
    assert batch(EXERCISE, str(root), "--out", str(out), "--runner", "local").returncode == 0
    for name, folder in (("ref", REFERENCE), ("faulty", FAULTY)):
        from_batch = json.loads((out / name / "results.json").read_text())
        alone = get_runner("local").grade(GradeRequest(EXERCISES[EXERCISE], folder, "en", 120))
        assert [(t["check"], t["score"]) for t in from_batch["tests"]] == \
            [(t["check"], t["score"]) for t in alone["tests"]]


def test_a_zip_is_taken_in_safely(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(REFERENCE / "server.py", "class/alice/server.py")
        bundle.writestr("class/bob/server.py", "print('hi')\n")
        bundle.writestr("class/../../escaped.py", "x = 1\n")
        bundle.writestr("/absolute.py", "x = 1\n")
        bomb = zipfile.ZipInfo("class/carol/bomb.bin")
        bundle.writestr(bomb, b"\0" * (64 * 1024 * 1024))
        link = zipfile.ZipInfo("class/carol/link")
        link.external_attr = 0o120777 << 16
        bundle.writestr(link, "/etc/passwd")
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as nested:
            nested.writestr("server.py", "print('nested')\n")
        bundle.writestr("class/dave/nested.zip", inner.getvalue())
    out = tmp_path / "out"
    result = batch(EXERCISE, str(archive), "--out", str(out), "--runner", "local")
    assert result.returncode == 0, result.stderr
    rows = read_csv(out)
    assert set(rows) == {"alice", "bob", "carol", "dave"}
    assert rows["alice"]["score"] == f"{FULL:g}" and rows["dave"]["score"] == "0"
    assert "leaves the folder" in result.stderr and "zip bomb" in result.stderr
    assert "is a link" in result.stderr
    assert not (tmp_path / "escaped.py").exists() and not (out.parent / "escaped.py").exists()


def test_an_empty_class_says_so(tmp_path):
    (tmp_path / "class").mkdir()
    result = batch(EXERCISE, str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                   "--runner", "local")
    assert result.returncode == 2 and "no student folders" in result.stderr
    assert (tmp_path / "out" / "grades.csv").read_text().startswith("student,score")


def test_killed_batch_resumes_without_loss_or_duplicates(tmp_path):
    root = tmp_path / "class"
    for number in range(6):
        shutil.copytree(HUNG if number % 3 == 2 else REFERENCE, root / f"s{number}")
    out = tmp_path / "out"
    scratch = tmp_path / "tmpdir"  # the batch's TMPDIR, where its sessions' work folders go
    scratch.mkdir()
    command = [sys.executable, "-m", "grader", "batch", EXERCISE, str(root), "--out", str(out),
               "--runner", "local", "-j", "2"]
    first = subprocess.Popen(command, cwd=TOP, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True,
                             env=dict(os.environ, TMPDIR=str(scratch)))
    assert wait_until(lambda: len(list(out.glob("*/results.json"))) >= 2, 120)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    # Nothing ran its cleanup, yet the reaper stops the sessions it was running (each in a
    # session of its own, out of reach of the killpg) and removes their work folders.
    assert wait_until(lambda: not host_processes(mentioning=str(root)), 60), \
        host_processes(mentioning=str(root))
    assert wait_until(lambda: not list(scratch.iterdir()), 60), list(scratch.iterdir())
    kept = {path.parent.name: path.stat().st_mtime for path in out.glob("*/results.json")}
    for path in out.glob("*/results.json"):
        json.loads(path.read_text())  # whole documents only, never half
    second = subprocess.run(command, cwd=TOP, text=True, capture_output=True, timeout=900)
    assert second.returncode == 0, second.stderr
    rows = read_csv(out)
    assert sorted(rows) == [f"s{number}" for number in range(6)]
    for name, mtime in kept.items():
        assert (out / name / "results.json").stat().st_mtime == mtime  # not regraded
    assert all(rows[f"s{n}"]["score"] == ("0" if n % 3 == 2 else f"{FULL:g}") for n in range(6))
    forced = subprocess.run(command[:-2] + ["-j", "2", "--force"], cwd=TOP, text=True,
                            capture_output=True, timeout=900)
    assert forced.returncode == 0
    assert all((out / name / "results.json").stat().st_mtime > mtime
               for name, mtime in kept.items())


def test_gradescope_bundle_grades_like_grader_check(tmp_path):
    bundle = tmp_path / "autograder.zip"
    result = subprocess.run([sys.executable, "-m", "grader", "gradescope", EXERCISE, "--out",
                             str(bundle)], cwd=TOP, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "kit/pyproject.toml"} <= names
        assert (archive.getinfo("run_autograder").external_attr >> 16) & 0o111
        assert f"check {EXERCISE} /autograder/submission" in archive.read("run_autograder").decode()
        archive.extractall(tmp_path / "source")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps",
                    str(tmp_path / "source" / "kit")], check=True, timeout=600)
    results = tmp_path / "results.json"
    graded = subprocess.run([str(venv / "bin" / "grader"), "--exercises",
                             str(tmp_path / "source" / "kit" / "exercises"), "check", EXERCISE,
                             str(FAULTY), "--json", str(results)], capture_output=True, text=True)
    assert graded.returncode == 1
    document = json.loads(results.read_text())
    assert document["score"] == BOB and document["max_score"] == FULL
