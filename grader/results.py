"""The results document: the one thing that crosses from the grading session to the host.

The session builds it from its check results and writes it; the host's runners read it
back, complete it with the checks the session did not report, and hand it to the reports
(table, JUnit, grades.csv, report.html, Gradescope). Every producer and every consumer goes
through this module, so the schema lives here and nowhere else.

The document is Gradescope's ``results.json`` with a few keys of our own::

    score, max_score, execution_time      numbers
    tests[]                               one per check, in the catalogue's order:
        name, number, check, lesson, program, score, max_score,
        status ("passed" | "failed" | "not_run"), output, duration,
        wire           (optional) the check's TCP connections: a ladder of rows per
                       connection and the captured frames (see ``grader.wire``)
    notes[]            (optional) what the copy of the submission left out, and why
    not_started[]      (optional) programs still the kit's unchanged starter: their checks
                       were not run, and failed with a message saying so
    grading_error      (optional) why some checks were not reported (a deadline, a crash)
    runner_error       (optional) the engine, the runner or the grader failed: the
                       document is *not a grade*; a batch grades the student again

Rule 1: a document handed to a report always holds every check of the exercise.
Rule 2: a failure of the grader or its engine is never recorded as a student's grade: it
carries ``runner_error``, and ``is_grade`` says no.
Rule 3: documents are written atomically: a reader sees the old file or the new one whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .catalogue import CheckInfo
from .language import Message

STATUSES = ("passed", "failed", "not_run")
GRADING_ERROR = "grading_error"
NOT_STARTED = "not_started"
RUNNER_ERROR = "runner_error"
NOT_REPORTED = Message("this check was not reported by the grading session",
                       "评分会话没有报告这一项的结果")


@dataclass
class CheckResult:
    """What one check concluded."""

    info: CheckInfo
    status: str  # one of STATUSES
    score: float
    feedback: str = ""
    duration: float = 0.0
    wire: dict | None = None  # the check's connections, segment by segment (grader.wire)


def _entry(number: int, result: CheckResult, lang: str) -> dict:
    return {
        "name": result.info.title_in(lang),
        "number": str(number),
        "check": result.info.check_id,
        "lesson": result.info.lesson,
        "program": result.info.program,
        "score": result.score,
        "max_score": result.info.points,
        "status": result.status,
        "output": result.feedback,
        "duration": round(result.duration, 3),
        **({"wire": result.wire} if result.wire is not None else {}),
    }


def _total(document: dict) -> dict:
    document["score"] = sum(test["score"] for test in document["tests"])
    document["max_score"] = sum(test["max_score"] for test in document["tests"])
    return document


def build(results: Iterable[CheckResult], execution_time: float, lang: str,
          notes: Iterable[str] = (), not_started: Iterable[str] = ()) -> dict:
    """The document of a session's results, numbered in the order given."""
    document = {"score": 0.0, "max_score": 0.0, "execution_time": round(execution_time, 3),
                "tests": [_entry(number, result, lang)
                          for number, result in enumerate(results, 1)]}
    add_notes(document, notes)
    if not_started:
        document[NOT_STARTED] = list(not_started)
    return _total(document)


def add_notes(document: dict, notes: Iterable[str]) -> dict:
    for note in notes:
        if note not in document.setdefault("notes", []):
            document["notes"].append(note)
    if not document.get("notes"):
        document.pop("notes", None)
    return document


def complete(document: dict | None, checks: list[CheckInfo], reason: Message | str,
             execution_time: float, lang: str, runner_error: bool = False) -> dict:
    """Add a failed entry, saying ``reason``, for every check the session did not report,
    and put the tests in the catalogue's order. ``runner_error``: the reason is a failure
    of the grader or its engine, so a document it left incomplete is not a grade."""
    text = reason.text(lang) if isinstance(reason, Message) else reason
    document = document or build([], execution_time, lang)
    reported = {test.get("check"): test for test in document["tests"]}
    missing = [CheckResult(info, "failed", 0.0, feedback=text)
               for info in checks if info.check_id not in reported]
    if missing:
        document[GRADING_ERROR] = (text.splitlines() or ["incomplete session"])[0]
    entries = {**reported, **{result.info.check_id: _entry(0, result, lang)
                              for result in missing}}
    known = [info.check_id for info in checks]
    order = known + [check for check in reported if check not in known]
    document["tests"] = [dict(entries[check], number=str(number))
                         for number, check in enumerate(order, 1)]
    if runner_error and missing:
        document[RUNNER_ERROR] = document[GRADING_ERROR] = (text.splitlines() or ["?"])[0]
    document.setdefault("execution_time", round(execution_time, 3))
    return _total(document)


def runner_failure(checks: list[CheckInfo], reason: str, lang: str) -> dict:
    """The document of a grading the grader or its engine failed: every check failed with
    the reason, and marked as not a grade."""
    return complete(None, checks, reason, 0.0, lang, runner_error=True)


def is_grade(document: dict | None) -> bool:
    """Whether the document is a grade (as opposed to a record of a runner failure)."""
    return bool(document) and RUNNER_ERROR not in document


def read(path: Path) -> dict | None:
    """The document at ``path``, or None if there is none or it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        return None
    return document


def write(path: Path, document: dict, for_people: bool = True) -> None:
    """Write the document atomically; indented where people read it. The session writes
    it after every check for the host alone, compact: json's C encoder does not indent, and
    its Python one took a tenth of a short exercise's CPU on a document of wire views."""
    indent = 2 if for_people else None
    write_text_atomically(path, json.dumps(document, ensure_ascii=False, indent=indent))


def write_text_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the whole new one, never half (also the class's
    grades.csv and report.html, which are written from documents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
