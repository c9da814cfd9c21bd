"""Runners: where a grading session runs. ``local`` (a separate process on this machine, the
student's default) or ``docker`` (a hardened container, the instructor's choice for
untrusted batches). Both run the same ``grader.session`` and return the same document.

Rule: a runner always returns a complete results document, one entry per check of the
exercise. When the session could not finish (deadline, crash, engine error), the checks it
did not report are failed with the reason: a timeout is a result, never a lost submission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import Exercise
from ..verdict import CheckResult
from ..plugin import results_document

SESSION_TIMEOUT = 600.0


@dataclass(frozen=True)
class GradeRequest:
    exercise: Exercise
    submission: Path
    lang: str = "auto"
    timeout: float = SESSION_TIMEOUT


def read_results(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("tests"), list) \
        else None


def complete(document: dict | None, exercise: Exercise, reason: str,
             execution_time: float) -> dict:
    """Add a failed entry, saying ``reason``, for every check the session did not report."""
    document = document or results_document([], execution_time)
    reported = {test.get("check") for test in document["tests"]}
    missing = [CheckResult(info, "failed", 0.0, feedback=reason)
               for info in exercise.checks() if info.check_id not in reported]
    if missing:
        document["grading_error"] = reason.splitlines()[0] if reason else "incomplete session"
        extra = results_document(missing, 0.0)["tests"]
        for number, test in enumerate(extra, len(document["tests"]) + 1):
            test["number"] = str(number)
        document["tests"].extend(extra)
        document["max_score"] = sum(test["max_score"] for test in document["tests"])
        document["score"] = sum(test["score"] for test in document["tests"])
    document.setdefault("execution_time", round(execution_time, 3))
    return document
