"""What travels on the queue: one student's task and a worker's answer, as JSON.

A task carries all a worker needs besides its own installed kit: the exercise's id, the
digest of the coordinator's kit for it (``kit_digest``: the exercise's checks and manifest,
and the grader's code), what of the grading changes a grade (language, deadline), the
batch's label for its containers, and the submission itself. The submission travels as
the session would copy it (``grader.submission``): the top-level regular files, base64
(names too: a name may hold any byte); a file over the session's 1 MiB limit travels as
its name only, and the worker puts a sparse stand-in of more than 1 MiB in its place, so
the session leaves it out with the very note it gives on the coordinator's machine. The
files of one task are capped (``MAX_TASK_BYTES``, the programs first); what a cap leaves
out is said in notes the coordinator adds to the result.

JSON only, never pickle: tasks cross machines, and a worker writes only plain files, with
checked names, into a folder of its own (``unpack``).

Rule: this module touches neither the broker nor the class's results: it only builds and
reads the documents that travel.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

from ..catalogue import Exercise
from ..fingerprint import code_fingerprint
from ..submission import MAX_FILE_BYTES, MAX_FILES

FORMAT = 1  # of tasks and answers; a worker refuses a task of another format
MAX_TASK_BYTES = 8 * 1024 ** 2  # a submission's files in one task, before base64


class TaskError(Exception):
    """A task that cannot be unpacked (a name that leaves the folder, bad base64...)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, AttributeError) as error:
        raise TaskError(f"not base64: {error}") from error


# -- the kit -----------------------------------------------------------------------------------

def kit_digest(exercise: Exercise) -> str:
    """A digest of what grades the exercise on this machine: every file of its checks
    folder and its manifest (names and bytes), and the grader's own code. Two machines
    with the same digest give the same grade."""
    digest = hashlib.sha256(code_fingerprint().encode() + b"\0")
    # What a run leaves beside the checks (bytecode, a hidden cache) is not the checks.
    files = [exercise.folder / "exercise.toml"] + sorted(
        path for path in exercise.checks_folder.rglob("*")
        if path.is_file() and path.suffix != ".pyc" and not any(
            part == "__pycache__" or part.startswith(".")
            for part in path.relative_to(exercise.checks_folder).parts))
    for path in files:
        digest.update(path.relative_to(exercise.folder).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes() + b"\0")
        except OSError:
            digest.update(b"unreadable\0")
    return digest.hexdigest()[:16]


# -- the submission ----------------------------------------------------------------------------

def pack(folder: Path, programs: tuple[str, ...]) -> tuple[dict, list[str]]:
    """The submission's part of a task, and notes on what could not travel with it.

    The walk is the session's own (``grader.submission.copy_submission``): regular files
    at the top of the folder, in name order, the first ``MAX_FILES`` of at most
    ``MAX_FILE_BYTES``; links, folders and devices are skipped as the session skips them."""
    notes: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        return {"files": [], "oversized": []}, [
            f"cannot read the submission folder: {error.strerror}"]
    kept, oversized = [], []
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_size > MAX_FILE_BYTES:
            oversized.append(_b64(os.fsencode(entry.name)))
            continue
        if len(kept) >= MAX_FILES:
            notes.append(f"only the first {MAX_FILES} files were copied")
            break
        kept.append(entry)
    # The exercise's programs first, so that a task's cap never costs a grade.
    kept.sort(key=lambda entry: entry.name not in programs)
    files, total = [], 0
    for entry in kept:
        try:
            with open(entry.path, "rb") as source:
                data = source.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            notes.append(f"{entry.name!r} could not be copied: {error.strerror}")
            continue
        if len(data) > MAX_FILE_BYTES:  # it grew since it was looked at
            oversized.append(_b64(os.fsencode(entry.name)))
            continue
        if total + len(data) > MAX_TASK_BYTES:
            notes.append(f"{entry.name!r} left out: the submission's files passed the "
                         f"queue's cap of {MAX_TASK_BYTES // 1024 ** 2} MiB for one task")
            continue
        total += len(data)
        files.append([_b64(os.fsencode(entry.name)), _b64(data)])
    return {"files": files, "oversized": oversized}, notes


def _checked_name(encoded: str) -> bytes:
    name = _unb64(encoded)
    if not name or name in (b".", b"..") or b"/" in name or b"\0" in name:
        raise TaskError(f"a file name that is not a plain name: {name!r}")
    return name


def unpack(submission: dict, folder: Path) -> None:
    """Write a task's submission into ``folder`` (new, empty): plain files only."""
    try:
        files, oversized = list(submission["files"]), list(submission["oversized"])
    except (KeyError, TypeError) as error:
        raise TaskError(f"no submission in the task: {error}") from error
    folder.mkdir(parents=True)
    base = os.fsencode(folder)
    for item in files:
        if not (isinstance(item, list) and len(item) == 2):
            raise TaskError("a file of the task is not [name, data]")
        name, data = _checked_name(item[0]), _unb64(item[1])
        if len(data) > MAX_FILE_BYTES:
            raise TaskError(f"a file of the task is over {MAX_FILE_BYTES} bytes")
        with open(os.path.join(base, name), "xb") as sink:
            sink.write(data)
    for encoded in oversized:
        # A sparse file: it costs no disk, and the session sees a file over its limit.
        with open(os.path.join(base, _checked_name(encoded)), "xb") as sink:
            sink.truncate(MAX_FILE_BYTES + 1)


# -- tasks and answers -------------------------------------------------------------------------

def make_task(exercise: Exercise, student: str, submission: dict, lang: str, timeout: float,
              label: str, kit: str) -> dict:
    return {"format": FORMAT, "exercise": exercise.exercise_id, "kit": kit,
            "student": student, "lang": lang, "timeout": timeout, "label": label,
            "submission": submission}


def task_digest(task: dict) -> str:
    """Two tasks with the same digest grade the same way: a restarted coordinator may take
    the answer of the one an earlier run sent."""
    return hashlib.sha256(json.dumps(task, sort_keys=True).encode()).hexdigest()[:24]


def answer(worker: str, document: dict, attempts: int, seconds: float) -> dict:
    return {"format": FORMAT, "worker": worker, "document": document,
            "attempts": attempts, "seconds": round(seconds, 3)}


def refusal(worker: str, reason: str) -> dict:
    """A worker's answer when it will not grade the task (other checks, another format)."""
    return {"format": FORMAT, "worker": worker, "refused": reason}


def read_answer(value) -> tuple[dict | None, str]:
    """The answer's results document, or None and why there is none (a refusal, or an
    answer that is not one)."""
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        return None, f"the worker's answer is not one this grader reads: {str(value)[:200]}"
    if "refused" in value:
        return None, f"worker {value.get('worker', '?')} refused the task: {value['refused']}"
    document = value.get("document")
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        return None, "the worker's answer holds no results document"
    return document, ""
