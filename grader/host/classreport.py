"""A class's reports: ``grades.csv`` for the gradebook and ``report.html`` to read feedback.

Rule: everything that came from a student (ids, program output inside feedback, notes) is
escaped: control characters made visible, then HTML-escaped (the Jinja2 template
``templates/class-report.html.j2`` does both for every value). The page loads nothing:
its pictures are inline SVG and its one script (sort, filter, open a student's feedback)
is inline.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from pathlib import Path

import jinja2

from .. import wire
from ..catalogue import Exercise
from ..results import GRADING_ERROR, RUNNER_ERROR, is_grade, write_text_atomically
from .intake import Student
from .report import points, safe_text


def student_status(document: dict | None, student: Student) -> str:
    if document is None:
        return "not graded yet"
    if student.problem:
        return "not graded: " + student.problem
    if RUNNER_ERROR in document:
        return "not graded, the runner failed (the next run grades again): " + \
            document[RUNNER_ERROR]
    if GRADING_ERROR in document:
        return "grading error: " + document[GRADING_ERROR]
    return "graded"


def grades_csv(exercise: Exercise, rows: list[tuple[Student, dict | None]]) -> str:
    checks = exercise.checks()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "score", "max_score", "status"] + [c.check_id for c in checks])
    for student, document in rows:
        scores = {test.get("check"): test.get("score", 0)
                  for test in (document or {}).get("tests", [])}
        writer.writerow([safe_text(student.student_id),
                         points(document["score"]) if document else "",
                         points(document["max_score"]) if document else
                         points(exercise.max_points()),
                         student_status(document, student)]
                        + [points(scores[c.check_id]) if c.check_id in scores else ""
                           for c in checks])
    return buffer.getvalue()


HISTOGRAM_HEIGHT, BAR_WIDTH, RATE_ROW, RATE_SPAN, LABEL_WIDTH = 140, 28, 20, 220, 260


def _environment() -> jinja2.Environment:
    # Every value shown goes through safe_text (control characters made visible), then
    # HTML escaping: a student's output can neither end a tag nor move a cursor.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("grader.host", "templates"), autoescape=True,
        finalize=lambda value: safe_text(value) if isinstance(value, str) else value)


def _histogram(scores: list[float], max_points: float) -> dict:
    """One bar per whole score from 0 to the maximum: how many students got it."""
    top = int(max_points)
    counts = [sum(1 for score in scores if int(score) == value) for value in range(top + 1)]
    tallest = max(counts + [1])
    bars = []
    for value, count in enumerate(counts):
        height = round((HISTOGRAM_HEIGHT - 40) * count / tallest)
        bars.append({"x": value * BAR_WIDTH + 2, "width": BAR_WIDTH - 4, "count": count,
                     "y": HISTOGRAM_HEIGHT - 18 - height, "height": height,
                     "label": str(value)})
    return {"width": (top + 1) * BAR_WIDTH + 4, "height": HISTOGRAM_HEIGHT, "bars": bars}


def _rates(check_rows: list[dict]) -> dict:
    bars = [{"y": number * RATE_ROW + 2, "label": row["check_id"][:40],
             "percent": row["percent"], "width": round(RATE_SPAN * row["percent"] / 100)}
            for number, row in enumerate(check_rows)]
    return {"width": LABEL_WIDTH + RATE_SPAN + 50, "height": len(bars) * RATE_ROW + 4,
            "left": LABEL_WIDTH, "span": RATE_SPAN, "bars": bars}


def _most_common(outputs: list[str]) -> dict | None:
    """The observation most failures of a check share: their first lines, alike once the
    numbers (ports, byte counts, seconds) are set aside."""
    if not outputs:
        return None
    firsts = [(output.strip().splitlines() or [""])[0][:300] for output in outputs]
    groups = Counter(re.sub(r"\d+", "N", line) for line in firsts)
    shape, count = groups.most_common(1)[0]
    example = next(line for line in firsts if re.sub(r"\d+", "N", line) == shape)
    return {"count": count, "text": example}


def _check_rows(checks: list, graded: list[dict]) -> list[dict]:
    rows = []
    for check in checks:
        tests = [test for document in graded for test in document["tests"]
                 if test.get("check") == check.check_id]
        passed = sum(test["status"] == "passed" for test in tests)
        failed = [test.get("output", "") for test in tests if test["status"] != "passed"]
        percent = round(100 * passed / len(tests)) if tests else 0
        rows.append({"check_id": check.check_id, "title": check.title, "lesson": check.lesson,
                     "points": check.points, "percent": percent, "failed": len(failed),
                     "rate": f"{passed}/{len(tests)} ({percent}%)" if tests else "-",
                     "common": _most_common(failed)})
    return rows


LADDER_WIDTH = 1060
LADDER_PROGRAM_X = 200
LADDER_GRADER_X = 700
LADDER_ROW = 24
LADDER_TOP = 34


def _ladders(test: dict) -> list[dict]:
    """The SVG geometry of a failed check's connections (``grader.wire``): the program's
    line on the left, the grader's on the right, one arrow per row, going down in time."""
    captured = test.get("wire") or {}
    if test.get("status") == "passed" or not captured.get("connections"):
        return []
    drawings = []
    for connection in captured.get("connections", []):
        arrows = []
        for number, row in enumerate(connection["rows"]):
            y = LADDER_TOP + number * LADDER_ROW
            start, end = ((LADDER_PROGRAM_X, LADDER_GRADER_X) if row["from"] == wire.PROGRAM
                          else (LADDER_GRADER_X, LADDER_PROGRAM_X))
            arrows.append({"y": y, "x1": start, "x2": end, "time": f"{row['t']:.3f} s",
                           "text": wire.describe(row), "label": wire.label_text(row, False),
                           "alarm": (row.get("label") or "").startswith(
                               ("rst", "refused", "zero", "probe_un", "keepalive_gave"))})
        ending = wire.ENDINGS.get(connection.get("ending"), ("", ""))[0]
        height = LADDER_TOP + len(arrows) * LADDER_ROW + 24
        drawings.append({"program": connection["program"], "grader": connection["grader"],
                         "where": wire.source_text(captured, False),
                         "arrows": arrows, "ending": ending, "height": height,
                         "width": LADDER_WIDTH, "program_x": LADDER_PROGRAM_X,
                         "grader_x": LADDER_GRADER_X})
    return drawings


def _without_ladder(test: dict) -> str:
    """A failed check's feedback without the text ladder at its end, which the page draws."""
    output = test.get("output", "")
    for lang in ("en", "zh"):
        text = wire.render_text(test.get("wire"), lang)
        if text and output.endswith("\n\n" + text):
            return output[:-len(text) - 2]
    return output


def _student_row(student: Student, document: dict | None) -> dict:
    tests = (document or {}).get("tests", [])
    return {"slug": student.slug, "student_id": student.student_id,
            "status": student_status(document, student),
            "score": (f"{points(document['score'])}/{points(document['max_score'])}"
                      if document else "-"),
            "score_value": document["score"] if document else -1,
            "failed": ", ".join(test.get("check", "") for test in tests
                                if test.get("status") != "passed"),
            "notes": (document or {}).get("notes", []),
            "tests": [_test_row(test) for test in tests]}


def _test_row(test: dict) -> dict:
    ladders = _ladders(test)
    failed = test.get("status") != "passed"
    return {"css": test.get("status") if test.get("status") in ("passed", "failed", "not_run")
            else "failed",
            "status": str(test.get("status", "failed")),
            "name": test.get("name", ""),
            "score": f"{points(test.get('score', 0))}/{points(test.get('max_score', 0))}",
            "ladders": ladders,
            "output": ((_without_ladder(test) if ladders else test.get("output", ""))
                       if failed else "")}


def report_html(exercise: Exercise, rows: list[tuple[Student, dict | None]]) -> str:
    """The page a teacher reads: the distribution and pass rates first, then the students
    (sortable, filterable), each one's feedback a click away. It loads nothing."""
    graded = [document for _student, document in rows if is_grade(document)]
    scores = [document["score"] for document in graded]
    check_rows = _check_rows(exercise.checks(), graded)
    return _environment().get_template("class-report.html.j2").render(
        exercise=exercise, rows=rows, graded=graded, points=points,
        mean=statistics.mean(scores) if scores else 0,
        median=statistics.median(scores) if scores else 0, max_points=exercise.max_points(),
        regrade=sum(1 for _student, document in rows if document and not is_grade(document)),
        histogram=_histogram(scores, exercise.max_points()), rates=_rates(check_rows),
        check_rows=check_rows,
        student_rows=[_student_row(student, document) for student, document in rows])


def write_class_reports(out: Path, exercise: Exercise,
                        rows: list[tuple[Student, dict | None]]) -> None:
    write_text_atomically(out / "grades.csv", grades_csv(exercise, rows))
    write_text_atomically(out / "report.html", report_html(exercise, rows))
