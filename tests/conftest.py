from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from grader.runners import GradeRequest
from grader.runners import local

from cases import Case

_GRADED: dict[tuple[str, str], dict] = {}


@pytest.fixture(scope="session")
def graded():
    """Grade a case with a runner once per session (the docker tests reuse local results)."""

    def grade(case: Case, runner: str = "local") -> dict:
        key = (case.id, runner)
        if key not in _GRADED:
            request = GradeRequest(case.exercise, case.folder, lang="en", timeout=300)
            if runner == "docker":
                from grader.runners import docker
                _GRADED[key] = docker.grade(request, image=os.environ.get(
                    "GRADER_IMAGE", "tcp-grader:latest"))
            else:
                _GRADED[key] = local.grade(request)
        return _GRADED[key]

    return grade


def failed_checks(document: dict) -> dict[str, str]:
    return {test["check"]: test["output"] for test in document["tests"] if test["status"] != "passed"}
