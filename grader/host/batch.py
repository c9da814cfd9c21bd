"""Grading a class: every student's submission, in parallel, resumable, nothing lost.

Rule 1: a student's result is written atomically the moment it is known
(``OUT/<student>/results.json``); running the same batch again grades only the students
without one. Killing the batch loses no finished result; its reaper (``grader.host.runners.reaper``)
removes what it was running, and the next run grades what is missing.
Rule 2: one student's trouble never stops the class. A grading that failed (deadline,
crashed session, engine error) is retried once, then recorded with the reason. A result
that records an engine error is not a grade: the next run grades that student again.
Rule 3: results are never written for a grading that was interrupted: an interrupted
student is simply graded on the next run.

One grading, two ways to run it. ``grade_submission`` grades one student's folder (with
its retry); a *pool* decides where that happens: ``LocalPool`` here, ``-j`` at once, or
``grader.host.queuebatch.QueuePool``, which sends each student to a shared queue whose
``grader worker`` processes call the very same ``grade_submission``. Either way the batch
takes the class in (``intake``), records each result (``Batch.record``) and writes the
class's reports. This module knows no queue: the queue's modules build on it, never the
other way round.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .. import results
from ..catalogue import Exercise
from . import pcap
from .classreport import write_class_reports
from .intake import IntakeError, Student, class_folder, students
from .runners import DEFAULT_IMAGE, SESSION_TIMEOUT, GradeRequest, Runner, get_runner

RESULTS_NAME = "results.json"
PCAP_FOLDER = "pcap"  # OUT/<student>/pcap/<number>-<check>.pcap
ATTEMPTS = 2  # a grading that failed is retried once


# -- one student's grading, wherever it runs -------------------------------------------------

@dataclass(frozen=True)
class GradingSettings:
    """What a grading depends on besides the exercise and the submission."""

    runner: Runner
    lang: str = "en"
    timeout: float = SESSION_TIMEOUT
    image: str = DEFAULT_IMAGE
    labels: dict[str, str] = field(default_factory=dict)


def grade_submission(exercise: Exercise, folder: Path, settings: GradingSettings,
                     stopping: threading.Event | None = None) -> tuple[dict, int]:
    """Grade one student's folder, retrying once after a grading failure: the document and
    the attempts made (0 if ``stopping`` was set before the first)."""
    attempts, document = 0, {}
    while attempts < ATTEMPTS and not (stopping is not None and stopping.is_set()):
        attempts += 1
        document = _grade_once(exercise, folder, settings)
        if results.GRADING_ERROR not in document:
            break
    return document, attempts


def _grade_once(exercise: Exercise, folder: Path, settings: GradingSettings) -> dict:
    request = GradeRequest(exercise, folder, settings.lang, settings.timeout, settings.image,
                           dict(settings.labels))
    try:
        return settings.runner.grade(request)
    except Exception as error:  # an engine or runner failure: not the student's doing
        return runner_failure(exercise, f"grading failed: {type(error).__name__}: {error}",
                              settings.lang)


def runner_failure(exercise: Exercise, reason: str, lang: str) -> dict:
    """The result of a student the engine, the runner or the grader failed."""
    try:
        checks = exercise.checks()
    except Exception:  # even the catalogue failed: a result all the same
        checks = []
    return results.runner_failure(checks, reason, lang)


def problem_document(exercise: Exercise, student: Student, lang: str) -> dict:
    """The result of a student whose entry cannot be graded (a file, a link): every check
    failed with the reason, and a grade all the same (nothing to grade again)."""
    document = results.complete(None, exercise.checks(), student.problem, 0.0, lang)
    document.pop(results.GRADING_ERROR, None)
    return document


# -- progress ----------------------------------------------------------------------------------

class Progress:
    """Done, failed, running, time left: one line, rewritten in place on a terminal. A
    queue adds what only it knows: tasks waiting for a worker, the workers seen, and why
    the batch is stalled when it is (``trouble``)."""

    def __init__(self, total: int, jobs: int, stream=sys.stderr) -> None:
        self.total, self.jobs, self.stream = total, jobs, stream
        self.done = self.failed = self.running = 0
        self.queued: int | None = None
        self.workers: int | None = None
        self.trouble = ""
        self.durations: list[float] = []
        self.lock = threading.Lock()
        self.last_printed = 0.0

    def started(self) -> None:
        with self.lock:
            self.running += 1

    def finished(self, seconds: float, failed: bool) -> None:
        with self.lock:
            self.running -= 1
        self.recorded(seconds, failed)

    def recorded(self, seconds: float | None, failed: bool) -> None:
        """A result was written (by a pool that counts ``running`` itself); ``seconds``
        None: nothing was graded (no part of the time left)."""
        with self.lock:
            self.done += 1
            self.failed += failed
            if seconds is not None:
                self.durations.append(seconds)

    def line(self) -> str:
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        left = ""
        if self.durations and self.done < self.total:
            average = sum(self.durations) / len(self.durations)
            remaining = (self.total - self.done) * average / max(1, self.jobs)
            left = f", about {_duration(remaining)} left"
        queue = ""
        if self.queued is not None:
            queue = f", {self.queued} queued, {self.workers or 0} workers seen"
        trouble = f"; {self.trouble}" if self.trouble else ""
        return (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} done, "
                f"{self.failed} failed, {self.running} running{queue}{left}{trouble}")

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


# -- the class ---------------------------------------------------------------------------------

BATCH_LABEL = "tcp-grader.host.batch"


def batch_label(out: Path) -> str:
    """The value of the ``BATCH_LABEL`` of every container of the batch writing to ``out``:
    a later run can remove what a run on a machine that went down left behind, without
    touching other batches."""
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]


class Pool(Protocol):
    """Where a batch's students are graded."""

    def grade_all(self, batch: "Batch", todo: list[Student]) -> bool:
        """Grade every student of ``todo``, each result recorded (``batch.record``) the
        moment it is known; True if the batch was interrupted."""


@dataclass
class BatchOptions:
    runner: Runner | None = field(default_factory=lambda: get_runner("docker"))
    jobs: int = os.cpu_count() or 1
    force: bool = False
    timeout: float = SESSION_TIMEOUT
    lang: str = "en"
    image: str = DEFAULT_IMAGE
    pool: Pool | None = None  # None: a LocalPool of ``jobs`` with ``runner``


class Batch:
    def __init__(self, exercise: Exercise, submissions: Path, out: Path,
                 options: BatchOptions) -> None:
        self.exercise = exercise
        self.submissions = submissions
        self.out = out
        self.options = options
        self.label = batch_label(out)

    def settings(self, runner: Runner) -> GradingSettings:
        return GradingSettings(runner, self.options.lang, self.options.timeout,
                               self.options.image, {BATCH_LABEL: self.label})

    # -- one student ---------------------------------------------------------------------

    def result_path(self, student: Student) -> Path:
        return self.out / student.slug / RESULTS_NAME

    def grade_here(self, student: Student, settings: GradingSettings,
                   stopping: threading.Event) -> tuple[dict, int]:
        """Grade on this machine (a student with a problem is not run at all)."""
        try:
            if student.problem:
                return problem_document(self.exercise, student, self.options.lang), 0
            return grade_submission(self.exercise, student.folder, settings, stopping)
        except Exception as error:  # a bug of the grader costs a grade, never a result
            return self.runner_failure(f"the grader failed: {type(error).__name__}: {error}"), 1

    def runner_failure(self, reason: str) -> dict:
        return runner_failure(self.exercise, reason, self.options.lang)

    def record(self, student: Student, document: dict, attempts: int,
               notes: list[str] = ()) -> bool:
        """Write the student's result (atomically); whether it counts as failed. ``notes``:
        more to say about the submission (what a queue's task could not carry)."""
        document.update(student=student.student_id, attempts=attempts, notes=(
            [student.problem] if student.problem else []) + student.notes)
        if notes:
            results.add_notes(document, notes)
        # The capture files first: results.json is what says the student is done.
        pcap.write_all(document, self.result_path(student).parent / PCAP_FOLDER)
        results.write(self.result_path(student), document)
        return bool(student.problem or results.GRADING_ERROR in document)

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
        todo = [student for student in roster if self.options.force or self.needs_grade(student)]
        skipped = len(roster) - len(todo)
        if skipped:
            print(f"grader batch: {skipped} students already graded (use --force to "
                  f"regrade)", file=sys.stderr)
        pool = self.options.pool or LocalPool(self.options.runner, self.options.jobs)
        interrupted = pool.grade_all(self, todo)
        documents = [(student, self.read(student)) for student in roster]
        write_class_reports(self.out, self.exercise, documents)
        shutil.rmtree(staging, ignore_errors=True)
        if interrupted:
            print("grader batch: interrupted; finished results are kept, run the same "
                  "command again to grade the rest", file=sys.stderr)
            return 130
        return self.report_runner_errors(documents)

    def needs_grade(self, student: Student) -> bool:
        return not results.is_grade(self.read(student))

    @staticmethod
    def report_runner_errors(documents: list[tuple[Student, dict | None]]) -> int:
        failed = [document[results.RUNNER_ERROR] for _student, document in documents
                  if document and not results.is_grade(document)]
        if not failed:
            return 0
        print(f"grader batch: {len(failed)} students could not be graded because the "
              f"runner failed (first: {failed[0]}); their results say so, and running the "
              f"same command again grades them", file=sys.stderr)
        return 1

    def read(self, student: Student) -> dict | None:
        return results.read(self.result_path(student))


class LocalPool:
    """``jobs`` students at once on this machine, each in a thread that waits for its
    runner (the session is a process or a container of its own)."""

    def __init__(self, runner: Runner, jobs: int) -> None:
        self.runner, self.jobs = runner, jobs
        self.stopping = threading.Event()

    def grade_student(self, batch: Batch, student: Student, progress: Progress) -> bool:
        """Grade and record; False if the batch was interrupted meanwhile (then nothing is
        written)."""
        progress.started()
        started = time.monotonic()
        document, attempts = batch.grade_here(student, batch.settings(self.runner),
                                              self.stopping)
        if self.stopping.is_set():
            progress.finished(time.monotonic() - started, False)
            return False
        failed = batch.record(student, document, attempts)
        progress.finished(time.monotonic() - started, failed)
        return True

    def grade_all(self, batch: Batch, todo: list[Student]) -> bool:
        self.runner.remove_leftovers({BATCH_LABEL: batch.label})
        progress = Progress(len(todo), self.jobs)
        if not todo:
            return False
        executor = ThreadPoolExecutor(max_workers=self.jobs)
        futures: set[Future] = {executor.submit(self.grade_student, batch, student, progress)
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
            self.runner.cancel_all()
            wait(futures, timeout=30)
            self.runner.cancel_all()
            progress.show(final=True)
            return True
