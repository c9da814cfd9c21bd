"""Grading a class: every student's submission, in parallel, resumable, nothing lost.

Rule 1: a student's result is written atomically the moment it is known
(``OUT/<student>/results.json``); running the same batch again grades only the students
without one. Killing the batch loses no finished result; its reaper (``runners.reaper``)
removes what it was running, and the next run grades what is missing.
Rule 2: one student's trouble never stops the class. A grading that failed (deadline,
crashed session, engine error) is retried once, then recorded with the reason. A result
that records an engine error is not a grade: the next run grades that student again.
Rule 3: results are never written for a grading that was interrupted: an interrupted
student is simply graded on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .catalogue import Exercise
from .classreport import write_class_reports
from .intake import IntakeError, Student, class_folder, students
from .runners import GradeRequest, complete

RESULTS_NAME = "results.json"
# In a result, the failure of the engine, the runner or the grader itself that kept the
# student from being graded (the engine crashed or went away, a bug): such a result is
# kept, so nothing is lost, and the next run grades the student again.
RUNNER_ERROR = "runner_error"


@dataclass
class BatchOptions:
    runner: str = "docker"
    jobs: int = os.cpu_count() or 1
    force: bool = False
    timeout: float = 600.0
    lang: str = "en"
    image: str = "tcp-grader:latest"


class Progress:
    """Done, failed, running, time left: one line, rewritten in place on a terminal."""

    def __init__(self, total: int, jobs: int, stream=sys.stderr) -> None:
        self.total, self.jobs, self.stream = total, jobs, stream
        self.done = self.failed = self.running = 0
        self.durations: list[float] = []
        self.lock = threading.Lock()
        self.last_printed = 0.0

    def started(self) -> None:
        with self.lock:
            self.running += 1

    def finished(self, seconds: float, failed: bool) -> None:
        with self.lock:
            self.running -= 1
            self.done += 1
            self.failed += failed
            self.durations.append(seconds)

    def line(self) -> str:
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        left = ""
        if self.durations:
            average = sum(self.durations) / len(self.durations)
            remaining = (self.total - self.done) * average / max(1, self.jobs)
            left = f", about {_duration(remaining)} left"
        return (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} done, "
                f"{self.failed} failed, {self.running} running{left}")

    def show(self, final: bool = False) -> None:
        now = time.monotonic()
        interactive = self.stream.isatty()
        if not final and not interactive and now - self.last_printed < 10:
            return
        self.last_printed = now
        end = "\n" if final or not interactive else ""
        self.stream.write(("\r" if interactive else "") + self.line() + end)
        self.stream.flush()


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


BATCH_LABEL = "tcp-grader.batch"


def batch_label(out: Path) -> str:
    """The value of the ``BATCH_LABEL`` of every container of the batch writing to ``out``:
    a later run can remove what a run on a machine that went down left behind, without
    touching other batches."""
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]


def write_json_atomically(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, path)


class Batch:
    def __init__(self, exercise: Exercise, submissions: Path, out: Path,
                 options: BatchOptions) -> None:
        self.exercise = exercise
        self.submissions = submissions
        self.out = out
        self.options = options
        self.stopping = threading.Event()
        self.label = batch_label(out)

    # -- the runner --------------------------------------------------------------------

    def grade_one(self, student: Student) -> dict:
        request = GradeRequest(self.exercise, student.folder, self.options.lang,
                               self.options.timeout)
        try:
            if self.options.runner == "docker":
                from .runners import docker
                return docker.grade(request, image=self.options.image,
                                    labels={BATCH_LABEL: self.label})
            from .runners import local
            return local.grade(request)
        except Exception as error:  # an engine or runner failure: not the student's doing
            return self.runner_failure(f"grading failed: {type(error).__name__}: {error}")

    def runner_failure(self, reason: str) -> dict:
        """The result of a student the engine, the runner or the grader failed."""
        try:
            document = complete(None, self.exercise, reason, 0.0)
        except Exception:  # even the catalogue failed: a result all the same
            document = {"score": 0, "max_score": 0, "execution_time": 0, "tests": []}
        document["grading_error"] = document[RUNNER_ERROR] = reason.splitlines()[0]
        return document

    def cancel_running(self) -> None:
        if self.options.runner == "docker":
            from .runners import docker
            docker.cancel_all()
        else:
            from .runners import local
            local.cancel_all()

    def remove_leftovers(self) -> None:
        if self.options.runner == "docker":
            from .runners import docker
            docker.remove_labelled(docker.client(), f"{BATCH_LABEL}={self.label}")

    # -- one student ---------------------------------------------------------------------

    def result_path(self, student: Student) -> Path:
        return self.out / student.slug / RESULTS_NAME

    def grade_student(self, student: Student, progress: Progress) -> bool:
        """Grade (retrying once after a grading failure) and write the result; False if
        the batch was interrupted meanwhile (then nothing is written)."""
        progress.started()
        started = time.monotonic()
        try:
            document, attempts = self.attempt(student)
        except Exception as error:  # a bug of the grader costs a grade, never a result
            document, attempts = self.runner_failure(
                f"the grader failed: {type(error).__name__}: {error}"), 1
        if self.stopping.is_set():
            progress.finished(time.monotonic() - started, False)
            return False
        document.update(student=student.student_id, attempts=attempts, notes=(
            [student.problem] if student.problem else []) + student.notes)
        write_json_atomically(self.result_path(student), document)
        progress.finished(time.monotonic() - started,
                          bool(student.problem or "grading_error" in document))
        return True

    def attempt(self, student: Student) -> tuple[dict, int]:
        """Grade, retrying once after a grading failure: the document and the attempts."""
        if student.problem:
            document = complete(None, self.exercise, student.problem, 0.0)
            document.pop("grading_error", None)
            return document, 0
        attempts, document = 0, {}
        while attempts < 2 and not self.stopping.is_set():
            attempts += 1
            document = self.grade_one(student)
            if "grading_error" not in document:
                break
        return document, attempts

    # -- the class -----------------------------------------------------------------------

    def run(self) -> int:
        staging = self.out / ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            folder, intake_notes = class_folder(self.submissions, staging)
        except IntakeError as error:
            print(f"grader batch: {error}", file=sys.stderr)
            return 2
        roster = students(folder, self.exercise.programs)
        for note in intake_notes:
            print(f"grader batch: note: {note}", file=sys.stderr)
        if not roster:
            print(f"grader batch: no student folders found in {self.submissions}; "
                  f"expected one subfolder per student", file=sys.stderr)
            write_class_reports(self.out, self.exercise, [])
            return 2
        self.remove_leftovers()
        todo = [student for student in roster if self.options.force or self.needs_grade(student)]
        skipped = len(roster) - len(todo)
        if skipped:
            print(f"grader batch: {skipped} students already graded (use --force to "
                  f"regrade)", file=sys.stderr)
        interrupted = self.grade_all(todo)
        documents = [(student, self.read(student)) for student in roster]
        write_class_reports(self.out, self.exercise, documents)
        shutil.rmtree(staging, ignore_errors=True)
        if interrupted:
            print("grader batch: interrupted; finished results are kept, run the same "
                  "command again to grade the rest", file=sys.stderr)
            return 130
        return self.report_runner_errors(documents)

    def needs_grade(self, student: Student) -> bool:
        document = self.read(student)
        return document is None or RUNNER_ERROR in document

    @staticmethod
    def report_runner_errors(documents: list[tuple[Student, dict | None]]) -> int:
        failed = [document[RUNNER_ERROR] for _student, document in documents
                  if document and RUNNER_ERROR in document]
        if not failed:
            return 0
        print(f"grader batch: {len(failed)} students could not be graded because the "
              f"runner failed (first: {failed[0]}); their results say so, and running the "
              f"same command again grades them", file=sys.stderr)
        return 1

    def grade_all(self, todo: list[Student]) -> bool:
        progress = Progress(len(todo), self.options.jobs)
        if not todo:
            return False
        executor = ThreadPoolExecutor(max_workers=self.options.jobs)
        futures: set[Future] = {executor.submit(self.grade_student, student, progress)
                                for student in todo}
        try:
            while futures:
                done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    if future.exception() is not None:  # cannot happen; say so if it does
                        print(f"grader batch: internal error: {future.exception()!r}",
                              file=sys.stderr)
                progress.show()
            progress.show(final=True)
            executor.shutdown()
            return False
        except KeyboardInterrupt:
            self.stopping.set()
            executor.shutdown(wait=False, cancel_futures=True)
            self.cancel_running()
            wait(futures, timeout=30)
            self.cancel_running()
            progress.show(final=True)
            return True

    def read(self, student: Student) -> dict | None:
        try:
            return json.loads(self.result_path(student).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
