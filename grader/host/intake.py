"""Taking in a class's submissions: a folder with one subfolder per student, or a zip of one.

Rule 1: nothing an instructor is handed can stop the batch or escape its folder. Zips are
extracted by hand, entry by entry, with caps on count, size and ratio (a zip bomb is cut
short), no absolute paths or ``..``, no links, nested zips left as plain files. A
student's folder that is a link is not followed; a student "folder" that is a file is
reported, not graded.
Rule 2: every student gets a result, even one that cannot be graded; its ``problem`` says why
in words an instructor can act on.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 512 * 1024 ** 2
MAX_ENTRY_BYTES = 16 * 1024 ** 2
MAX_RATIO = 200  # uncompressed / compressed, per entry
MAX_PROGRAM_BYTES = 1024 * 1024


class IntakeError(Exception):
    """The class's submissions cannot be read at all (the message says why)."""


@dataclass
class Student:
    student_id: str  # the subfolder's name, shown to people (odd bytes escaped)
    slug: str  # a safe folder name for this student's results
    folder: Path | None
    problem: str = ""  # why the student cannot be graded, if so
    notes: list[str] = field(default_factory=list)  # things worth knowing, graded anyway


def display_name(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def make_slug(name: str, taken: set[str]) -> str:
    """A file-system-safe, unique folder name for a student id."""
    slug = re.sub(r"[^A-Za-z0-9._\-]+", "_", name).strip("._") or "student"
    slug = slug[:80]
    candidate, number = slug, 2
    while candidate.lower() in taken:
        candidate, number = f"{slug}-{number}", number + 1
    taken.add(candidate.lower())
    return candidate


def extract_zip(archive: Path, target: Path) -> list[str]:
    """Extract safely into ``target``; the notes on what was left out."""
    notes: list[str] = []
    total = 0
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise IntakeError(f"{archive} is not a readable zip file: {error}") from error
    with bundle:
        entries = bundle.infolist()
        if len(entries) > MAX_ENTRIES:
            notes.append(f"the zip has {len(entries)} entries; only the first {MAX_ENTRIES} "
                         f"were looked at")
            entries = entries[:MAX_ENTRIES]
        for entry in entries:
            name = entry.filename
            parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
            mode = entry.external_attr >> 16
            if name.startswith(("/", "\\")) or ".." in parts or not parts or \
                    re.match(r"^[A-Za-z]:", name):
                notes.append(f"zip entry {name!r} left out: its path leaves the folder")
                continue
            destination = target.joinpath(*parts)
            if entry.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            # The folder exists even when its file is left out: that student gets a result.
            destination.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                notes.append(f"zip entry {name!r} left out: it is a link")
                continue
            if entry.file_size > MAX_ENTRY_BYTES or (
                    entry.compress_size and entry.file_size / entry.compress_size > MAX_RATIO
                    and entry.file_size > 1024 * 1024):
                notes.append(f"zip entry {name!r} left out: {entry.file_size} bytes "
                             f"uncompressed (a zip bomb?)")
                continue
            if total + entry.file_size > MAX_TOTAL_BYTES:
                notes.append(f"the zip unpacks to more than {MAX_TOTAL_BYTES} bytes; "
                             f"the rest was left out")
                break
            written = _copy_capped(bundle, entry, destination)
            if written is None:
                notes.append(f"zip entry {name!r} left out: larger than it claimed")
                continue
            total += written
    return notes


def _copy_capped(bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, destination: Path
                 ) -> int | None:
    """Copy one entry, never writing more than its declared size (lying headers)."""
    written = 0
    try:
        with bundle.open(entry) as source, open(destination, "wb") as sink:
            while chunk := source.read(65536):
                written += len(chunk)
                if written > entry.file_size or written > MAX_ENTRY_BYTES:
                    raise ValueError("entry larger than declared")
                sink.write(chunk)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        destination.unlink(missing_ok=True)
        return None
    return written


def class_folder(submissions: Path, staging: Path) -> tuple[Path, list[str]]:
    """The folder holding one subfolder per student (extracting a zip into ``staging``)."""
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise IntakeError(f"{submissions} is a file but not a zip of submissions")
        target = staging / "unzipped"
        target.mkdir(parents=True, exist_ok=True)
        notes = extract_zip(submissions, target)
        entries = [entry for entry in target.iterdir() if not entry.name.startswith("__MACOSX")]
        # A zip of the class folder itself holds one folder: look inside it.
        if len(entries) == 1 and entries[0].is_dir() and any(
                child.is_dir() for child in entries[0].iterdir()):
            target = entries[0]
        return target, notes
    if not submissions.is_dir():
        raise IntakeError(f"{submissions} does not exist or is not a folder or a zip")
    if not os.access(submissions, os.R_OK | os.X_OK):
        raise IntakeError(f"{submissions} cannot be read")
    return submissions, []


def students(folder: Path, programs: tuple[str, ...]) -> list[Student]:
    """One ``Student`` per entry of the class folder, sorted by name."""
    taken: set[str] = set()
    found = []
    for raw in sorted(os.listdir(os.fsencode(folder))):
        name = display_name(raw)
        if name.startswith(".") or name == "__MACOSX":
            continue
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))
        student = Student(name, make_slug(name, taken), path)
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            student.folder, student.problem = None, (
                "the student's entry is a link; links are never followed out of the submissions")
        elif not stat.S_ISDIR(info.st_mode):
            student.folder, student.problem = None, (
                "the student's entry is a file, not a folder: put the programs in a folder "
                "named after the student")
        else:
            student.notes = preflight(path, programs)
        found.append(student)
    return found


def preflight(folder: Path, programs: tuple[str, ...]) -> list[str]:
    """What an instructor should know about a student's folder before it is graded."""
    notes = []
    for program in programs:
        path = folder / program
        if path.is_symlink():
            notes.append(f"{program} is a link; it is not followed and counts as missing")
        elif not path.exists():
            notes.append(f"{program} is missing")
        elif path.is_file():
            size = path.stat().st_size
            if size > MAX_PROGRAM_BYTES:
                notes.append(f"{program} is {size} bytes, over the {MAX_PROGRAM_BYTES}-byte "
                             f"limit; it is left out")
            else:
                try:
                    path.read_bytes().decode("utf-8")
                except UnicodeDecodeError:
                    notes.append(f"{program} is not UTF-8 text; Python may refuse to run it")
    return notes
