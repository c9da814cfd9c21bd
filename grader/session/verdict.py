"""Verdicts: what a check concluded, in words a student who just read the lesson understands.

Rule 1: a verdict names what was observed and the lesson point behind it, first in one
line, detail after (h2spec's "Expected / Actual", CS144's "should have been X, but was Y").
Rule 2: feedback exists in English and Chinese (``Message``); the host chooses which.
Rule 3: this module does no I/O and knows nothing about sockets or processes.
"""

from __future__ import annotations

from ..language import Message


class CheckFailed(AssertionError):
    """Raised by a check when what it observed breaks the contract."""

    def __init__(self, message: Message, evidence: str = "") -> None:
        super().__init__(message.en)
        self.message = message
        self.evidence = evidence


class CheckNotRun(Exception):
    """Raised when a check cannot run on this machine (reported as not run, never as passed)."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message


def fail(en: str, zh: str, evidence: str = "") -> None:
    raise CheckFailed(Message(en, zh), evidence)


def expect(condition: object, en: str, zh: str, evidence: str = "") -> None:
    """Fail with the given feedback unless ``condition`` holds."""
    if not condition:
        fail(en, zh, evidence)


def not_run(en: str, zh: str) -> None:
    raise CheckNotRun(Message(en, zh))
