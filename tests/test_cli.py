"""The ``grader`` command's contract: output, JSON, JUnit and exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from xml.etree import ElementTree

from cases import EXERCISES, TOP


def grader(*args: str, cwd=TOP) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=600)


def test_list_shows_every_exercise_with_its_points():
    result = grader("list")
    assert result.returncode == 0
    for exercise_id, exercise in EXERCISES.items():
        line = next(line for line in result.stdout.splitlines() if line.startswith(exercise_id))
        assert f"{exercise.max_points():g} points" in line


def test_check_reference_writes_gradescope_json_and_junit(tmp_path):
    results, junit = tmp_path / "r.json", tmp_path / "r.xml"
    result = grader("check", "02-tcp-server", "reference/02-tcp-server",
                    "--json", str(results), "--junit", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(results.read_text())
    assert document["score"] == document["max_score"] > 0
    assert isinstance(document["execution_time"], float)
    for test in document["tests"]:
        assert {"name", "score", "max_score", "status", "output"} <= set(test)
        assert test["status"] == "passed"
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == len(document["tests"])
    assert "Score: " in result.stdout


def test_lost_points_exit_1_and_feedback_names_the_observation(tmp_path):
    results = tmp_path / "r.json"
    faulty = "tests/faulty/02-tcp-server/test_replies_thank_you"
    result = grader("check", "02-tcp-server", faulty, "--json", str(results))
    assert result.returncode == 1
    failed = [t for t in json.loads(results.read_text())["tests"] if t["status"] == "failed"]
    assert [t["check"] for t in failed] == ["test_replies_thank_you"]
    assert "thank you !" in failed[0]["output"] and "What the grader saw" in failed[0]["output"]


def test_feedback_in_chinese(tmp_path):
    results = tmp_path / "r.json"
    faulty = "tests/faulty/02-tcp-server/test_replies_thank_you"
    grader("check", "02-tcp-server", faulty, "--json", str(results), "--lang", "zh")
    failed = [t for t in json.loads(results.read_text())["tests"] if t["status"] == "failed"]
    assert "回复应恰好是" in failed[0]["output"]


def test_missing_program_is_graded_zero_with_a_message(tmp_path):
    results = tmp_path / "r.json"
    result = grader("check", "01-tcp-client", str(tmp_path), "--json", str(results))
    assert result.returncode == 1
    document = json.loads(results.read_text())
    assert document["score"] == 0 and document["max_score"] == EXERCISES["01-tcp-client"].max_points()
    assert all("client.py was not found" in test["output"] for test in document["tests"])


def test_not_gradable_exits_2(tmp_path):
    assert grader("check", "99-no-such-exercise", str(tmp_path)).returncode == 2
    assert grader("check", "01-tcp-client", str(tmp_path / "missing")).returncode == 2
    assert "unknown exercise" in grader("check", "nope", str(tmp_path)).stderr


def test_a_fresh_kit_fits_one_screen_and_runs_nothing(tmp_path):
    kit = tmp_path / "kit"
    for exercise_id, exercise in EXERCISES.items():
        (kit / exercise_id).mkdir(parents=True)
        for program in exercise.programs:
            (kit / exercise_id / program).write_bytes((exercise.folder / program).read_bytes())
    results = tmp_path / "r.json"
    result = grader("check", "--all", str(kit), "--json", str(results))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXERCISES) + 1, result.stdout
    # The longest exercises are started first; the summary keeps the catalogue's order.
    assert [line.split()[0] for line in lines[:-1]] == sorted(EXERCISES), result.stdout
    for exercise_id in EXERCISES:
        assert any(line.split()[:1] == [exercise_id] and line.endswith("not started")
                   for line in lines), exercise_id
    documents = json.loads(results.read_text())["exercises"]
    for exercise_id, document in documents.items():
        assert document["not_started"] == list(EXERCISES[exercise_id].programs)
        assert all(test["duration"] == 0 and "not started" in test["output"]
                   for test in document["tests"])


def test_details_only_for_exercises_started_that_lost_points(tmp_path):
    kit = tmp_path / "kit"
    (kit / "02-tcp-server").mkdir(parents=True)
    (kit / "02-tcp-server" / "server.py").write_bytes(
        (TOP / "tests/faulty/02-tcp-server/test_replies_thank_you/server.py").read_bytes())
    (kit / "03-echo-server").mkdir()
    (kit / "03-echo-server" / "echo_server.py").write_bytes(
        (EXERCISES["03-echo-server"].folder / "echo_server.py").read_bytes())
    result = grader("check", "--all", str(kit), "02", "03")
    assert result.returncode == 1, result.stderr
    assert "--- Replies 'thank you !' (test_replies_thank_you)" in result.stdout
    assert "echo_server.py is still the kit's starter" not in result.stdout
    summary = result.stdout.splitlines()[-3:]
    server, echo = EXERCISES["02-tcp-server"].max_points(), EXERCISES["03-echo-server"].max_points()
    lost = EXERCISES["02-tcp-server"].check_info()["test_replies_thank_you"].points
    assert summary[0].split()[:2] == ["02-tcp-server", f"{server - lost:g}/{server:g}"] \
        and "lost points" in summary[0]
    assert summary[1].split()[:2] == ["03-echo-server", f"0/{echo:g}"] \
        and "not started" in summary[1]
    verbose = grader("check", "--all", str(kit), "03", "-v")
    assert "echo_server.py is still the kit's starter" in verbose.stdout


def test_the_same_feedback_of_many_checks_is_said_once(tmp_path):
    """A program that is not there fails each of its checks with the same words: the table
    still has a row per check, the words come once, under one heading."""
    empty = tmp_path / "02-tcp-server"
    empty.mkdir()
    result = grader("check", "02-tcp-server", str(empty))
    assert result.returncode == 1, result.stderr
    checks = EXERCISES["02-tcp-server"].checks()
    assert result.stdout.count("  FAIL  ") == len(checks), result.stdout
    assert result.stdout.count("server.py was not found") == 1, result.stdout
    assert f"--- the {len(checks)} checks that failed, the same feedback:" in result.stdout
