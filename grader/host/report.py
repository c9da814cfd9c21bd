"""Reports written from a results document: the terminal table and JUnit XML.

Rule: reports read the document (the Gradescope-format dict); they never look at sockets,
processes or checks, so the same submission prints the same report on every runner.
Everything that came from the student's program is escaped before it is shown.
"""

from __future__ import annotations

import textwrap
import unicodedata
from xml.etree import ElementTree

from .. import wire
from ..results import NOT_STARTED, RUNNER_ERROR

MARKS = {"passed": "PASS", "failed": "FAIL", "not_run": "SKIP"}


def display_width(text: str) -> int:
    """Columns the text takes in a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def safe_text(text: str) -> str:
    """Drop terminal control sequences (ANSI escapes, carriage returns) from student output."""
    return "".join(char if char in "\n\t" or unicodedata.category(char)[0] != "C"
                   else f"\\x{ord(char):02x}" for char in text)


def points(value: float) -> str:
    return f"{value:g}"


def format_table(document: dict, heading: str, lang: str = "en") -> str:
    tests = document.get("tests", [])
    width = max([display_width(test["name"]) for test in tests] + [10])
    lines = [heading, ""]
    for test in tests:
        score = f"{points(test['score'])}/{points(test['max_score'])}"
        lines.append(f"  {MARKS.get(test['status'], '?'):4}  {pad(test['name'], width)}  {score:>7}")
    total = f"{points(document.get('score', 0))}/{points(document.get('max_score', 0))}"
    label = "总分" if lang == "zh" else "Score"
    lines += ["", f"  {label}: {total}   ({document.get('execution_time', 0):.1f} s)"]
    if RUNNER_ERROR in document:  # not a grade: say so before any check's detail
        lines += [("  未评分（评分程序或其运行环境出错，不是你的程序的问题）：" if lang == "zh" else
                   "  NOT GRADED (the grader or its engine failed, not your program): ")
                  + safe_text(document[RUNNER_ERROR])]
    failed = [test for test in tests if test["status"] != "passed"]
    for group in _same_feedback(failed):
        lines += ["", _details_heading(group, len(group) == len(failed), lang)]
        lines += ["    " + line for line in safe_text(group[0].get("output", "")).splitlines()]
    return "\n".join(lines) + "\n"


def _same_feedback(failed: list[dict]) -> list[list[dict]]:
    """Failed checks grouped by their feedback, in the table's order: a program that is not
    there fails every check of it with the same words, said once rather than ten times."""
    groups: dict[str, list[dict]] = {}
    for test in failed:
        groups.setdefault(test.get("output", ""), []).append(test)
    return list(groups.values())


def _details_heading(group: list[dict], every_failed: bool, lang: str) -> str:
    if len(group) == 1:
        return f"--- {group[0]['name']} ({group[0].get('check', '')})"
    if every_failed:
        return (f"--- 失败的 {len(group)} 项检查反馈相同：" if lang == "zh" else
                f"--- the {len(group)} checks that failed, the same feedback:")
    names = ("；" if lang == "zh" else "; ").join(test["name"] for test in group)
    heading = (f"--- {len(group)} 项检查反馈相同：" if lang == "zh" else
               f"--- {len(group)} checks, the same feedback: ") + names
    return textwrap.fill(heading, width=100, subsequent_indent="    ")


def format_wires(document: dict, lang: str = "en") -> str:
    """The ladders of the checks that passed (``grader check --wire``): a failed check's
    feedback already ends with its own."""
    lines = []
    for test in document.get("tests", []):
        if test["status"] != "passed":
            continue
        ladder = safe_text(wire.render_text(test.get("wire"), lang))
        if ladder:
            lines += ["", f"=== {test['name']} ({test.get('check', '')})"]
            lines += ["    " + line for line in ladder.splitlines()]
    return "\n".join(lines) + "\n" if lines else ""


STATUS_WORDS = {"full marks": "满分", "lost points": "失分", "not started": "尚未开始",
                "not graded": "未评分"}


def status(document: dict) -> str:
    """One word for an exercise's document: full marks, lost points, not started (every
    program still the kit's starter) or not graded (a runner failure)."""
    if RUNNER_ERROR in document:
        return "not graded"
    if document.get(NOT_STARTED) and all(test.get("program") in document[NOT_STARTED]
                                         for test in document.get("tests", [])):
        return "not started"
    return "full marks" if document["score"] >= document["max_score"] else "lost points"


def format_summary(documents: dict[str, dict], lang: str = "en") -> str:
    """One line per exercise and the total: the student's view of the whole kit."""
    width = max([len(exercise_id) for exercise_id in documents] + [10])
    lines = []
    for exercise_id, document in documents.items():
        word = status(document)
        word = STATUS_WORDS[word] if lang == "zh" else word
        pending = [program for program in document.get(NOT_STARTED, [])]
        if pending and status(document) == "lost points":
            word += (f"（{', '.join(pending)} 尚未开始）" if lang == "zh"
                     else f" ({', '.join(pending)} not started)")
        score = f"{points(document['score'])}/{points(document['max_score'])}"
        lines.append(f"  {exercise_id:{width}}  {score:>7}  {word}")
    total = sum(document["score"] for document in documents.values())
    possible = sum(document["max_score"] for document in documents.values())
    label = "总分" if lang == "zh" else "total"
    lines.append(f"  {label:{width}}  {points(total) + '/' + points(possible):>7}")
    return "\n".join(lines) + "\n"


def junit_xml(document: dict, suite_name: str) -> bytes:
    tests = document.get("tests", [])
    suite = ElementTree.Element("testsuite", name=suite_name, tests=str(len(tests)),
                                failures=str(sum(t["status"] == "failed" for t in tests)),
                                skipped=str(sum(t["status"] == "not_run" for t in tests)),
                                time=str(document.get("execution_time", 0)))
    for test in tests:
        case = ElementTree.SubElement(suite, "testcase", classname=suite_name,
                                      name=test.get("check") or test["name"],
                                      time=str(test.get("duration", 0)))
        output = safe_text(test.get("output", ""))
        if test["status"] == "failed":
            failure = ElementTree.SubElement(case, "failure",
                                             message=(output.splitlines() or [""])[0][:200])
            failure.text = output
        elif test["status"] == "not_run":
            ElementTree.SubElement(case, "skipped", message=output[:200])
    suites = ElementTree.Element("testsuites")
    suites.append(suite)
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)
