"""Runners: where a grading session runs. One interface, two implementations.

``local`` runs the session in a separate process on this machine (the student's default);
``docker`` runs the very same ``grader.session`` in a hardened container (the instructor's
choice for untrusted batches). Both return the same document (``grader.results``).

The host chooses a runner once, by name (``get_runner``), and from then on only speaks
the ``Runner`` protocol; nothing outside this package asks which runner it has.

Rule: ``grade`` always returns a complete results document, one entry per check of the
exercise. When the session could not finish, the checks it did not report are failed with
the reason; when the reason is a failure of the grader or its engine, the document carries
``runner_error`` and is not a grade (``results.is_grade``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ...catalogue import Exercise

SESSION_TIMEOUT = 600.0
DEFAULT_IMAGE = "tcp-grader:latest"
RUNNERS = {"local": "grader.host.runners.local", "docker": "grader.host.runners.docker"}


class RunnerUnavailable(Exception):
    """The runner cannot grade on this machine (no Docker engine, no permission, ...)."""


def session_arguments(request: "GradeRequest", exercise_folder: str, submission: str,
                      results_path: str, basetemp: str, copy_notes: str | None = None
                      ) -> list[str]:
    """The arguments of ``python -I -m grader.session`` for ``request``, on any runner."""
    arguments = [exercise_folder, submission, results_path, request.lang,
                 "--basetemp", basetemp]
    if copy_notes is not None:
        arguments += ["--copy-notes", copy_notes]
    if request.parallel is not None:
        arguments += ["--parallel", str(request.parallel)]
    return arguments


@dataclass(frozen=True)
class GradeRequest:
    """Everything a runner needs to grade one submission."""

    exercise: Exercise
    submission: Path
    lang: str = "en"  # "en" or "zh": chosen once by the host (grader.language.choose)
    timeout: float = SESSION_TIMEOUT
    image: str = DEFAULT_IMAGE  # docker only
    labels: dict[str, str] = field(default_factory=dict)  # docker only: extra labels
    parallel: int | None = None  # checks side by side at most (None: the session's default)


class Runner(Protocol):
    name: str

    def check_available(self) -> None:
        """Raise ``RunnerUnavailable`` (with what to do) if this runner cannot grade here."""

    def grade(self, request: GradeRequest) -> dict:
        """Grade one submission: a complete results document, whatever happened."""

    def cancel_all(self) -> None:
        """Stop every grading this process is running (an interrupted batch)."""

    def remove_leftovers(self, labels: dict[str, str]) -> None:
        """Remove what an earlier grader with these labels left behind (a crashed machine)."""


def get_runner(name: str) -> Runner:
    if name not in RUNNERS:
        raise RunnerUnavailable(f"unknown runner {name!r}; known: {', '.join(RUNNERS)}")
    return importlib.import_module(RUNNERS[name]).RUNNER
