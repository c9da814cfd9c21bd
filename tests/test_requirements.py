"""Every rule a statement states is a check, and every check a rule the statement states:
the requirement table of each statement (grader/requirements.py) against the checks."""

from __future__ import annotations

import pytest

from cases import EXERCISES
from grader.requirements import exercise_table, problems


@pytest.mark.parametrize("exercise", sorted(EXERCISES), ids=str)
def test_the_statement_and_the_checks_say_the_same(exercise):
    checks = {info.check_id: info.points for info in EXERCISES[exercise].checks()}
    assert problems(EXERCISES[exercise].folder, checks,
                    EXERCISES[exercise].max_points()) == []


def test_a_rule_without_a_check_is_found(tmp_path):
    (tmp_path / "README.md").write_text(
        "| Rule | Check | Points |\n|---|---|---|\n| Listen | `test_a` | 1 |\n"
        "| Reply | `test_gone` | 1 |\n| **Total** | | **3** |\n")
    (tmp_path / "README.zh.md").write_text("no table\n")
    found = problems(tmp_path, {"test_a": 1.0, "test_b": 2.0}, 3.0)
    assert any("no rule names test_b" in problem for problem in found)
    assert any("checks that do not exist: test_gone" in problem for problem in found)
    assert any("README.zh.md" in problem and "no table" in problem for problem in found)
    assert exercise_table(tmp_path).total == "3"
