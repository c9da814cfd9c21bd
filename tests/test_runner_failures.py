"""No silent zeros, one language, no lost notes: the contract between the host and the
session, on both runners.

- a session that cannot run the exercise's checks (a check that does not import, a grader
  in the image that is not the host's) is a runner failure: ``grader check`` says so and
  exits 2, ``grader batch`` records ``runner_error`` and grades the student again next run;
- the language is chosen once on the host: on a Chinese locale, headings *and* feedback
  are Chinese, whichever runner ran the session;
- what the copy of the submission left out is said in the feedback, not "not found".
"""

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
from grader import results
from grader.host.runners import GradeRequest, get_runner

RUNNERS = ["local", pytest.param("docker", marks=pytest.mark.docker)]
NEEDS_ENGINE = {"docker"}
SERVER = "02-tcp-server"
IMAGE = os.environ.get("GRADER_IMAGE", "tcp-grader:latest")


def grader(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=TOP, text=True,
                          capture_output=True, timeout=600, env=env)


@pytest.fixture
def runner(request):
    if request.param in NEEDS_ENGINE:
        request.getfixturevalue("docker_engine")
    return request.param


@pytest.fixture
def broken_exercises(tmp_path) -> Path:
    """A copy of the exercises where one check of 02 imports what the grader lacks (a
    check written for a newer grader)."""
    root = tmp_path / "exercises"
    shutil.copytree(TOP / "exercises" / SERVER, root / SERVER,
                    ignore=shutil.ignore_patterns("__pycache__"))
    checks = root / SERVER / "checks" / "test_server.py"
    checks.write_text(checks.read_text(encoding="utf-8")
                      + "\nfrom grader.session.steps import helper_of_a_newer_grader\n",
                      encoding="utf-8")
    return root


@pytest.mark.parametrize("runner", RUNNERS, indirect=True)
def test_a_check_that_does_not_import_is_not_a_grade(runner, broken_exercises, tmp_path):
    out = tmp_path / "r.json"
    result = grader("--exercises", str(broken_exercises), "check", SERVER,
                    str(TOP / "reference" / SERVER), "--runner", runner, "--image", IMAGE,
                    "--json", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not graded" in result.stderr and "helper_of_a_newer_grader" in result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert not results.is_grade(document)
    assert len(document["tests"]) == len(EXERCISES[SERVER].checks())


def test_a_session_that_cannot_start_is_not_a_grade(tmp_path):
    """The local runner starts its session with ``python -I``, which sees only the installed
    grader. Run by a Python where the grader is not installed (a venv of its own), the
    session ends with status 1, as pytest does for failed checks, and writes no results:
    that must be the grader's failure, never a student's 0."""
    bare = tmp_path / "bare-python"
    venv.create(bare, with_pip=False)
    script = ("import sys; from grader.host.cli import main; "
              f"sys.executable = {str(bare / 'bin' / 'python')!r}; sys.exit(main())")
    out = tmp_path / "r.json"
    result = subprocess.run([sys.executable, "-c", script, "check", SERVER,
                             str(TOP / "reference" / SERVER), "--json", str(out)],
                            cwd=TOP, text=True, capture_output=True, timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not graded" in result.stderr and "without writing its results" in result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert not results.is_grade(document)
    assert len(document["tests"]) == len(EXERCISES[SERVER].checks())


def test_a_batch_regrades_what_a_broken_check_spoiled(broken_exercises, tmp_path):
    submissions = tmp_path / "class"
    shutil.copytree(TOP / "reference" / SERVER, submissions / "alice")
    out = tmp_path / "out"
    command = ["--exercises", str(broken_exercises), "batch", SERVER, str(submissions),
               "--out", str(out), "--runner", "local", "-j", "1"]
    first = grader(*command)
    assert first.returncode == 1, first.stderr
    spoiled = json.loads((out / "alice" / "results.json").read_text(encoding="utf-8"))
    assert not results.is_grade(spoiled) and spoiled["attempts"] == 2
    # The teacher mends the check; the same command grades alice again.
    shutil.rmtree(broken_exercises / SERVER)
    shutil.copytree(TOP / "exercises" / SERVER, broken_exercises / SERVER)
    second = grader(*command)
    assert second.returncode == 0, second.stderr
    graded = json.loads((out / "alice" / "results.json").read_text(encoding="utf-8"))
    assert results.is_grade(graded) and graded["score"] == graded["max_score"]


@pytest.mark.docker
def test_an_image_with_another_grader_is_not_a_grade(docker_engine, monkeypatch):
    from grader.host.runners import docker as docker_runner
    monkeypatch.setattr(docker_runner, "code_fingerprint", lambda: "0123456789abcdef")
    document = get_runner("docker").grade(GradeRequest(
        EXERCISES[SERVER], TOP / "reference" / SERVER, "en", 120, IMAGE))
    assert not results.is_grade(document)
    assert "rebuild the image with bash docker/build-image.sh" in document["runner_error"]


def test_a_session_refuses_a_host_with_another_grader(tmp_path):
    out = tmp_path / "r.json"
    session = subprocess.run(
        [sys.executable, "-I", "-m", "grader.session", str(EXERCISES[SERVER].folder),
         str(TOP / "reference" / SERVER), str(out), "zh"], capture_output=True, text=True,
        env=dict(os.environ, GRADER_FINGERPRINT="0123456789abcdef"), timeout=60)
    assert session.returncode == 5
    document = json.loads(out.read_text(encoding="utf-8"))
    assert not results.is_grade(document) and "0123456789abcdef" in document["runner_error"]
    assert document["tests"][0]["name"] == EXERCISES[SERVER].checks()[0].title_zh


@pytest.mark.parametrize("runner", RUNNERS, indirect=True)
def test_a_chinese_locale_gives_chinese_headings_and_feedback(runner, tmp_path):
    out = tmp_path / "r.json"
    env = dict(os.environ, LANG="zh_CN.UTF-8", LC_ALL="", LANGUAGE="")
    env.pop("GRADER_LANG", None)
    result = grader("check", SERVER, "tests/faulty/02-tcp-server/test_replies_thank_you",
                    "--runner", runner, "--image", IMAGE, "--json", str(out), env=env)
    assert result.returncode == 1, result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    titles = {info.check_id: info.title_zh for info in EXERCISES[SERVER].checks()}
    assert all(test["name"] == titles[test["check"]] for test in document["tests"])
    failed = next(test for test in document["tests"] if test["status"] == "failed")
    assert "回复应恰好是" in failed["output"] and "评分程序看到的情况" in failed["output"]
    assert "总分" in result.stdout


@pytest.mark.parametrize("runner", RUNNERS, indirect=True)
def test_a_program_left_out_by_the_copy_says_why(runner, tmp_path):
    submission = tmp_path / "big"
    submission.mkdir()
    program = (TOP / "reference" / "03-echo-server" / "echo_server.py").read_text()
    (submission / "echo_server.py").write_text(program + "#" * 2_500_000 + "\n")
    out = tmp_path / "r.json"
    result = grader("check", "03-echo-server", str(submission), "--runner", runner,
                    "--image", IMAGE, "--json", str(out))
    assert result.returncode == 1, result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["notes"] == ["'echo_server.py' left out: larger than 1 MiB"]
    for test in document["tests"]:
        assert "left out: larger than 1 MiB" in test["output"], test["check"]
        assert "was not found" not in test["output"]
