"""The requirement table of a statement: every rule the statement states, and the check
that proves it.

Each statement (``README.md``, ``README.zh.md``) ends its rules with one table::

    | Rule | Check | Points |             (Chinese: | 规则 | 检查项 | 分数 |)
    |---|---|---|
    | Connect to the IP and port typed | `test_connects_to_given_address` | 1 |
    | Do not bind() the client socket (the kernel ... anyway) | not graded | - |
    | **Total** | | **10** |                (Chinese: | **总分** | | **10** |)

A row names one or more checks in backticks, or says ``not graded`` (``不评分``) for advice
that cannot be observed from outside the program. The project's tests hold the table and
the checks in step: every check has a row, every row a check or ``not graded``, the points
are the check's, and the total is the exercise's.

Rule: this module reads text; it never imports or runs a check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HEADERS = {"en": ("rule", "check", "points"), "zh": ("规则", "检查项", "分数")}
TOTALS = {"en": "**total**", "zh": "**总分**"}
NOT_GRADED = {"en": "not graded", "zh": "不评分"}
STATEMENTS = {"en": "README.md", "zh": "README.zh.md"}


@dataclass(frozen=True)
class Requirement:
    rule: str
    checks: tuple[str, ...]  # empty: advice, not graded
    points: str


@dataclass(frozen=True)
class RequirementTable:
    rows: tuple[Requirement, ...]
    total: str


class TableMissing(Exception):
    """The statement has no requirement table, or it is malformed."""


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_table(statement: Path, lang: str = "en") -> RequirementTable:
    lines = statement.read_text(encoding="utf-8").splitlines()
    header = next((number for number, line in enumerate(lines) if line.startswith("|")
                   and tuple(cell.lower() for cell in _cells(line)) == HEADERS[lang]), None)
    if header is None:
        raise TableMissing(f"{statement}: no table headed | {' | '.join(HEADERS[lang])} |")
    rows, total = [], None
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        if len(cells) != 3:
            raise TableMissing(f"{statement}: a row of the requirement table has "
                               f"{len(cells)} cells, not 3: {line}")
        if cells[0].lower() == TOTALS[lang]:
            total = cells[2].strip("*")
            continue
        checks = tuple(re.findall(r"`(test_\w+)`", cells[1]))
        if not checks and cells[1].lower() != NOT_GRADED[lang]:
            raise TableMissing(f"{statement}: the rule {cells[0]!r} names no check (write "
                               f"`test_...`, or {NOT_GRADED[lang]!r} for advice)")
        rows.append(Requirement(cells[0], checks, cells[2]))
    if total is None:
        raise TableMissing(f"{statement}: the requirement table has no "
                           f"{TOTALS[lang]} row")
    return RequirementTable(tuple(rows), total)


def exercise_table(folder: Path, lang: str = "en") -> RequirementTable:
    return read_table(folder / STATEMENTS[lang], lang)


def problems(folder: Path, checks: dict[str, float], max_points: float) -> list[str]:
    """What keeps the statements of the exercise in ``folder`` and its checks (id ->
    points) from saying the same thing, in both languages; empty when they agree."""
    found = []
    for lang, name in STATEMENTS.items():
        try:
            table = exercise_table(folder, lang)
        except (OSError, TableMissing) as error:
            found.append(str(error))
            continue
        named = {check for row in table.rows for check in row.checks}
        if set(checks) - named:
            found.append(f"{name}: no rule names {', '.join(sorted(set(checks) - named))}")
        if named - set(checks):
            found.append(f"{name}: rules name checks that do not exist: "
                         f"{', '.join(sorted(named - set(checks)))}")
        for row in table.rows:
            wrong = [check for check in row.checks
                     if check in checks and _number(row.points) != checks[check]]
            if wrong:
                found.append(f"{name}: the points of {row.rule!r} are not those of "
                             f"{', '.join(wrong)}")
            if not row.checks and row.points not in ("-", "0"):
                found.append(f"{name}: the advice {row.rule!r} has points")
        if _number(table.total) != max_points:
            found.append(f"{name}: the total {table.total} is not the exercise's "
                         f"{max_points:g}")
    return found


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
