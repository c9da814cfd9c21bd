"""The two languages of the feedback: bilingual text, and the choice of one.

Rule: the language is chosen once, on the host (``choose``), and handed to the grading
session explicitly; nothing inside the session reads the locale. That is how a Chinese
locale gives Chinese headings *and* Chinese feedback on every runner.
This module does no I/O beyond reading the environment.
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

    def __add__(self, other: "Message") -> "Message":
        return Message(self.en + other.en, self.zh + other.zh)


def choose(choice: str | None) -> str:
    """``en`` or ``zh``: an explicit choice wins, else the locale (GRADER_LANG, LANGUAGE,
    LC_ALL, LC_MESSAGES, LANG, then Python's locale)."""
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
