"""The results document (grader/results.py): complete, in the catalogue's order, in one
language, atomic, and never a grade when the grader or its engine failed."""

from __future__ import annotations

import json
import threading

from cases import EXERCISES

from grader import results
from grader.catalogue import CheckInfo
from grader.language import Message

CHECKS = [CheckInfo("test_a", "A", 2.0, title_zh="甲"), CheckInfo("test_b", "B", 1.0),
          CheckInfo("test_c", "C", 3.0, title_zh="丙")]


def test_complete_adds_what_was_not_reported_in_the_catalogues_order():
    reported = results.build([results.CheckResult(CHECKS[2], "passed", 3.0)], 1.5, "en")
    document = results.complete(reported, CHECKS, results.NOT_REPORTED, 2.0, "en")
    assert [test["check"] for test in document["tests"]] == ["test_a", "test_b", "test_c"]
    assert [test["number"] for test in document["tests"]] == ["1", "2", "3"]
    assert document["score"] == 3.0 and document["max_score"] == 6.0
    assert document["tests"][0]["output"] == results.NOT_REPORTED.en
    assert document[results.GRADING_ERROR] == results.NOT_REPORTED.en
    assert results.is_grade(document)


def test_completion_speaks_the_documents_language():
    reason = Message("stopped", "已中止")
    document = results.complete(None, CHECKS, reason, 0.0, "zh")
    assert [test["name"] for test in document["tests"]] == ["甲", "B", "丙"]
    assert {test["output"] for test in document["tests"]} == {"已中止"}


def test_a_runner_failure_is_never_a_grade():
    document = results.runner_failure(CHECKS, "grading failed: engine gone", "en")
    assert not results.is_grade(document)
    assert document[results.RUNNER_ERROR] == "grading failed: engine gone"
    assert document["score"] == 0 and len(document["tests"]) == len(CHECKS)
    # A session that ended abnormally after reporting every check still gave a grade.
    whole = results.build([results.CheckResult(info, "passed", info.points)
                           for info in CHECKS], 1.0, "en")
    assert results.is_grade(results.complete(whole, CHECKS, "crashed at the end", 1.0, "en",
                                              runner_error=True))


def test_notes_are_kept_once():
    document = results.build([], 0.0, "en", notes=["'a.py' left out: larger than 1 MiB"])
    results.add_notes(document, ["'a.py' left out: larger than 1 MiB", "other"])
    assert document["notes"] == ["'a.py' left out: larger than 1 MiB", "other"]
    assert "notes" not in results.build([], 0.0, "en")


def test_a_reader_never_sees_half_a_document(tmp_path):
    path = tmp_path / "results.json"
    big = results.complete(None, EXERCISES["06-half-close"].checks(), "x" * 200_000, 0.0, "en")
    results.write(path, big)
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            results.write(path, big)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        for _read in range(300):
            assert json.loads(path.read_text(encoding="utf-8"))["max_score"] == big["max_score"]
    finally:
        stop.set()
        writer.join()
    assert results.read(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{\"tests\": 3}")
    assert results.read(tmp_path / "bad.json") is None
