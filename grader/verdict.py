"""Verdicts: what a check concluded, in words a student who just read the lesson understands.

Rule 1: a verdict names what was observed and the lesson point behind it, first in one
line, detail after (h2spec's "Expected / Actual", CS144's "should have been X, but was Y").
Rule 2: feedback exists in English and Chinese; the language is chosen once per session.
Rule 3: this module does no I/O and knows nothing about sockets or processes.
"""

from __future__ import annotations

import locale
import os
from dataclasses import dataclass

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Message:
    """One piece of feedback in both languages."""

    en: str
    zh: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


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


@dataclass(frozen=True)
class CheckInfo:
    """What a check is worth and what it is about, from its ``check`` marker."""

    check_id: str
    title: str
    points: float
    lesson: str = ""
    program: str = ""
    title_zh: str = ""


@dataclass
class CheckResult:
    info: CheckInfo
    status: str  # "passed", "failed" or "not_run"
    score: float
    feedback: str = ""
    duration: float = 0.0


def session_language(choice: str | None) -> str:
    """``en`` or ``zh``: an explicit choice wins, else the locale (LANGUAGE, LC_ALL, LANG)."""
    if choice in LANGUAGES:
        return choice
    for variable in ("GRADER_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    try:
        current = locale.getlocale()[0] or ""
    except ValueError:
        current = ""
    return "zh" if current.lower().startswith("zh") else "en"
