"""A class's reports: ``grades.csv`` for the gradebook and ``report.html`` to read feedback.

Rule: everything that came from a student (ids, program output inside feedback, notes) is
escaped: control characters made visible, then HTML-escaped. The page has no script and
loads nothing.
"""

from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path

from .catalogue import Exercise
from .intake import Student
from .report import points, safe_text


def student_status(document: dict | None, student: Student) -> str:
    if document is None:
        return "not graded yet"
    if student.problem:
        return "not graded: " + student.problem
    if "grading_error" in document:
        return "grading error: " + document["grading_error"]
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


def _escape(text: str) -> str:
    return html.escape(safe_text(text), quote=True)


STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
td.number { text-align: right; }
.passed { color: #176b1f; } .failed { color: #a11; } .not_run { color: #777; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; }
details { margin: 0.3em 0 0.8em 0; }
"""


def report_html(exercise: Exercise, rows: list[tuple[Student, dict | None]]) -> str:
    checks = exercise.checks()
    graded = [(student, document) for student, document in rows if document]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{_escape(exercise.exercise_id)}: class report</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{_escape(exercise.exercise_id)}: {_escape(exercise.title)} / "
             f"{_escape(exercise.title_zh)}</h1>"]
    if graded:
        mean = sum(document["score"] for _s, document in graded) / len(graded)
        parts.append(f"<p>{len(rows)} students, {len(graded)} graded; mean score "
                     f"{mean:.1f} / {points(exercise.max_points())}.</p>")
    else:
        parts.append(f"<p>{len(rows)} students; none graded.</p>")
    parts.append("<h2>Checks</h2><table><tr><th>check</th><th>points</th><th>lesson</th>"
                 "<th>passed</th></tr>")
    for check in checks:
        passed = sum(1 for _s, document in graded for test in document["tests"]
                     if test.get("check") == check.check_id and test["status"] == "passed")
        rate = f"{passed}/{len(graded)} ({100 * passed / len(graded):.0f}%)" if graded else "-"
        parts.append(f"<tr><td>{_escape(check.title)}<br><small>{_escape(check.check_id)}"
                     f"</small></td><td class=\"number\">{points(check.points)}</td>"
                     f"<td>{_escape(check.lesson)}</td><td class=\"number\">{rate}</td></tr>")
    parts.append("</table><h2>Students</h2><table><tr><th>student</th><th>score</th>"
                 "<th>status</th></tr>")
    for student, document in rows:
        score = (f"{points(document['score'])}/{points(document['max_score'])}"
                 if document else "-")
        parts.append(f"<tr><td><a href=\"#s-{_escape(student.slug)}\">"
                     f"{_escape(student.student_id)}</a></td><td class=\"number\">{score}</td>"
                     f"<td>{_escape(student_status(document, student))}</td></tr>")
    parts.append("</table><h2>Feedback</h2>")
    for student, document in rows:
        parts.append(_student_section(student, document))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _student_section(student: Student, document: dict | None) -> str:
    parts = [f"<h3 id=\"s-{_escape(student.slug)}\">{_escape(student.student_id)}</h3>"]
    if document is None:
        return parts[0] + "<p>Not graded yet.</p>"
    for note in document.get("notes", []):
        parts.append(f"<p><em>{_escape(note)}</em></p>")
    parts.append("<ul>")
    for test in document.get("tests", []):
        status = test.get("status", "failed")
        css = status if status in ("passed", "failed", "not_run") else "failed"
        line = (f"<li class=\"{css}\">{_escape(status.upper())} {_escape(test.get('name', ''))}"
                f" ({points(test.get('score', 0))}/{points(test.get('max_score', 0))})")
        if status != "passed" and test.get("output"):
            line += (f"<details><summary>feedback</summary><pre>{_escape(test['output'])}"
                     f"</pre></details>")
        parts.append(line + "</li>")
    parts.append("</ul>")
    return "\n".join(parts)


def write_class_reports(out: Path, exercise: Exercise,
                        rows: list[tuple[Student, dict | None]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("grades.csv", grades_csv(exercise, rows)),
                       ("report.html", report_html(exercise, rows))):
        temporary = out / (name + ".partial")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out / name)
