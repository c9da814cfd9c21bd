from __future__ import annotations

import os

import pytest

from grader.host.runners import GradeRequest, get_runner

from cases import Case

_GRADED: dict[tuple[str, str], dict] = {}


@pytest.fixture(scope="session")
def graded():
    """Grade a case with a runner once per session (the docker tests reuse local results)."""

    def grade(case: Case, runner: str = "local") -> dict:
        key = (case.id, runner)
        if key not in _GRADED:
            request = GradeRequest(case.exercise, case.folder, lang="en", timeout=300,
                                   image=DOCKER_IMAGE)
            _GRADED[key] = get_runner(runner).grade(request)
        return _GRADED[key]

    return grade


def failed_checks(document: dict) -> dict[str, str]:
    return {test["check"]: test["output"] for test in document["tests"] if test["status"] != "passed"}


# -- docker ------------------------------------------------------------------------------------

# The hostile submissions are graded, never collected: pytest_hijack/ ships a conftest.py
# that would otherwise be loaded by this very test session.
collect_ignore = ["hostile"]

DOCKER_IMAGE = os.environ.get("GRADER_IMAGE", "tcp-grader:latest")


@pytest.fixture(scope="session")
def docker_engine():
    """A client of the Docker engine, with the grading image present.

    Without an engine (or the image) the test is skipped on a developer's machine, but in CI
    (CI=true) it fails: the docker tests must never be skipped silently where they matter."""
    from grader.host.runners import engine as docker_engine_client
    from grader.host.runners.engine import EngineUnavailable

    def unavailable(why: str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {why}. CI must run the docker tests: start the engine "
                        f"and build the image with `bash docker/build-image.sh`.", pytrace=False)
        pytest.skip(f"{why} (start it and build the image with `bash docker/build-image.sh`)")

    try:
        engine = docker_engine_client.client()
    except EngineUnavailable as error:
        unavailable(f"no Docker engine is reachable ({error})")
    try:
        engine.images.get(DOCKER_IMAGE)
    except Exception as error:  # docker.errors.ImageNotFound, or the engine went away
        unavailable(f"the grading image {DOCKER_IMAGE} is not available ({error})")
    return engine
