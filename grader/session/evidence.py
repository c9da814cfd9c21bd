"""Evidence: what a check produced (program outputs, wire logs), attached to its feedback.

Fixtures register every program they start and every peer they open with ``keep``; when
the check fails, ``render`` turns them into the "What the grader saw" part of the feedback.
The notes of the submission's copy (files left out, and why) are kept with ``keep_notes``
and go into the results document.
Rule: everything here came from the student's program, so it is bounded (the last lines of
an output) and never interpreted.
"""

from __future__ import annotations

import pytest

from . import events, peers
from .program import StudentProgram

EVIDENCE_KEY = pytest.StashKey[list]()
NOTES_KEY = pytest.StashKey[list]()
OUTPUT_LINES = 30


def keep(item: pytest.Item, exhibit: object) -> None:
    """Remember a program or peer the check ``item`` used."""
    item.stash.setdefault(EVIDENCE_KEY, []).append(exhibit)


def keep_notes(item: pytest.Item, notes: list[str]) -> None:
    """Remember what the copy of the submission for ``item`` left out, and why."""
    item.stash[NOTES_KEY] = list(notes)


def notes(item: pytest.Item) -> list[str]:
    return item.stash.get(NOTES_KEY, [])


def grader_ports(item: pytest.Item) -> set[int]:
    """The local ports of the grader's own sockets in the check ``item``: whose end of each
    captured connection is the grader's."""
    found = set()
    for exhibit in item.stash.get(EVIDENCE_KEY, []):
        if isinstance(exhibit, peers.PeerServer):
            found.add(exhibit.port)
            found.update(connection.local_port for connection in exhibit.connections)
        elif isinstance(exhibit, peers.PeerConnection):
            found.add(exhibit.local_port)
    found.discard(0)
    return found


def ladders(item: pytest.Item) -> list[dict]:
    """The check's connections as its peers logged them (``events.ladder``), in order."""
    logs = []
    for exhibit in item.stash.get(EVIDENCE_KEY, []):
        if isinstance(exhibit, peers.PeerServer):
            logs.extend(connection.log for connection in exhibit.connections)
        elif isinstance(exhibit, peers.PeerConnection):
            logs.append(exhibit.log)
    drawn = [events.ladder(log) for log in logs]
    return [connection for connection in drawn if connection is not None]


def render(item: pytest.Item, lang: str) -> str:
    """The wire logs and program outputs this check produced, for the feedback."""
    parts = []
    for exhibit in item.stash.get(EVIDENCE_KEY, []):
        if isinstance(exhibit, StudentProgram):
            parts.append(_program_output(exhibit, lang))
        elif isinstance(exhibit, peers.PeerServer):
            parts.extend(connection.log.render() for connection in exhibit.connections)
        elif isinstance(exhibit, peers.PeerConnection):
            parts.append(exhibit.log.render())
    if not parts:
        return ""
    heading = "\n\n评分程序看到的情况：\n" if lang == "zh" else "\n\nWhat the grader saw:\n"
    return heading + "\n".join(parts)


def _program_output(program: StudentProgram, lang: str) -> str:
    title = "你的程序的输出" if lang == "zh" else "your program's output"
    output = program.output.strip() or ("（没有输出）" if lang == "zh" else "(nothing)")
    return (f"{title} ({program.script.name}, {program.exit_description()}):\n"
            + _indent(_tail(output)))


def _tail(text: str, lines: int = OUTPUT_LINES) -> str:
    kept = text.splitlines()
    if len(kept) > lines:
        kept = [f"... ({len(kept) - lines} earlier lines)"] + kept[-lines:]
    return "\n".join(kept)


def _indent(text: str) -> str:
    return "\n".join("  | " + line for line in text.splitlines())
