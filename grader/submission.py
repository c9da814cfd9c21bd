"""A student's submission folder, copied into scratch space before anything of it runs.

Rule: the grader never imports, executes or trusts a file of the submission in its own
process. Programs run from a per-check scratch copy, so one check's leftovers (files the
program wrote, a replaced script) cannot change the next check, and the original folder
is never written. Only regular files at the top of the folder are copied, with caps on
their number and size; links are never followed.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

MAX_FILES = 200
MAX_FILE_BYTES = 1024 * 1024


def copy_submission(source: Path, scratch: Path) -> list[str]:
    """Copy the submission's top-level regular files into ``scratch``; notes on what was left out."""
    notes: list[str] = []
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        entries = sorted(os.scandir(source), key=lambda entry: entry.name)
    except OSError as error:
        return [f"cannot read the submission folder: {error.strerror}"]
    copied = 0
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # folders, links, devices: a program of the contract is one plain file
        if info.st_size > MAX_FILE_BYTES:
            notes.append(f"{entry.name!r} left out: larger than {MAX_FILE_BYTES // 1024 ** 2} MiB")
            continue
        if copied >= MAX_FILES:
            notes.append(f"only the first {MAX_FILES} files were copied")
            break
        try:
            shutil.copyfile(entry.path, scratch / entry.name, follow_symlinks=False)
        except OSError as error:  # e.g. /tmp full: never leave a truncated program behind
            (scratch / entry.name).unlink(missing_ok=True)
            notes.append(f"{entry.name!r} could not be copied: {error.strerror}")
            continue
        copied += 1
    return notes


def note_about(notes: list[str], name: str) -> str | None:
    """The copy note that explains why the file ``name`` is not in the copy, if any."""
    return next((note for note in notes if note.startswith(f"{name!r} ")), None)
