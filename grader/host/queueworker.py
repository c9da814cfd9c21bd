"""``grader worker``: a grading machine's share of a class, taken from the shared queue.

A worker is a Celery worker (``queueapp``) whose one task is a student's grading: it
unpacks the submission that came with the task (``queuetask``) into a scratch folder of its
own, grades it with ``grader.host.batch.grade_submission`` (the local batch's own grading,
retry included) on this machine's runner, and answers with the results document. ``-j N``
gradings run at once, each in a thread that waits for its session (a process or a
container): a SIGKILLed worker is gone whole, its reaper stops its sessions, and its tasks,
never acknowledged, go to another worker.

Rule 1: a worker grades only with the coordinator's checks. A task whose kit digest
(``queuetask.kit_digest``) is not this machine's is refused, with an answer saying why;
the coordinator records a runner failure, so the student is graded again on the next run.
Rule 2: a worker writes nothing but its scratch folders (removed after each grading, and by
its reaper if it is killed). Answers travel back through Redis; no filesystem is shared.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import CatalogueError, get_exercise
from .batch import ATTEMPTS, BATCH_LABEL, GradingSettings, grade_submission
from .queueapp import DEFAULT_VISIBILITY_TIMEOUT, QUEUE, TASK_NAME, make_app, safe_url
from .queuetask import FORMAT, TaskError, answer, kit_digest, refusal, unpack
from .runners import Runner, reaper

log = logging.getLogger("grader.worker")
STARTED = "STARTED"
REVOKED = "REVOKED"
_warned: set[float] = set()  # the --timeout values already warned about


@dataclass(frozen=True)
class WorkerSettings:
    root: Path  # this machine's exercises
    runner: Runner
    image: str
    visibility_timeout: float


def default_name() -> str:
    """Unique on the host: two workers of one machine must not share a node name."""
    return f"grader-{os.getpid()}@{socket.gethostname()}"


def grade_task(settings: WorkerSettings, task: dict, worker: str) -> dict:
    """A task's answer: the student's results document, or a refusal."""
    if not isinstance(task, dict) or task.get("format") != FORMAT:
        found = task.get("format") if isinstance(task, dict) else None
        return refusal(worker, f"a task of format {found} (this worker reads {FORMAT}): the "
                               f"coordinator's grader is not this worker's")
    exercise_id = str(task.get("exercise"))
    try:
        exercise = get_exercise(settings.root, exercise_id)
    except CatalogueError as error:
        return refusal(worker, f"this worker's kit has no exercise {exercise_id} ({error})")
    mine, theirs = kit_digest(exercise), task.get("kit")
    if mine != theirs:
        return refusal(worker, f"its checks of {exercise_id} (kit {mine}, in "
                               f"{exercise.folder}) are not the coordinator's (kit {theirs}); "
                               f"it graded nothing. Install the same grader and exercises on "
                               f"every grading machine, then run the batch again")
    timeout = float(task["timeout"])
    if ATTEMPTS * timeout > settings.visibility_timeout and timeout not in _warned:
        _warned.add(timeout)
        log.warning("tasks of --timeout %.0f s (two attempts at most) may outlast this "
                    "worker's visibility timeout (%.0f s): a grade that long is given to a "
                    "second worker too (and recorded once)", timeout,
                    settings.visibility_timeout)
    work = reaper.work_folder("queue-")  # the reaper removes it if this worker is killed
    try:
        # The student's slug names the folder, so a worker's processes say whom they grade.
        folder = work / (re.sub(r"[^A-Za-z0-9._\-]+", "_", str(task.get("student"))).strip("._")
                         or "student")
        try:
            unpack(task["submission"], folder)
        except (TaskError, KeyError, OSError) as error:
            return refusal(worker, f"the task's submission cannot be unpacked: {error}")
        grading = GradingSettings(settings.runner, str(task["lang"]), timeout, settings.image,
                                  {BATCH_LABEL: str(task.get("label", ""))})
        started = time.monotonic()
        document, attempts = grade_submission(exercise, folder, grading)
        return answer(worker, document, attempts, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def register(app, settings: WorkerSettings) -> None:
    """The queue's one task, on this worker's app."""
    from celery.exceptions import Ignore

    @app.task(name=TASK_NAME, bind=True)
    def grade(self, task: dict) -> dict:
        worker = self.request.hostname or default_name()
        # Revoked by a coordinator's Ctrl-C while this worker was not listening: the
        # revocation is in the store of answers too.
        if self.app.backend.get_task_meta(self.request.id, cache=False)["status"] == REVOKED:
            log.info("%s: revoked before it started; not graded", task.get("student"))
            raise Ignore()
        self.update_state(state=STARTED, meta={"worker": worker})
        result = grade_task(settings, task, worker)
        if "refused" in result:
            log.warning("refused %s of %s: %s", task.get("student"), task.get("exercise"),
                        result["refused"])
        else:
            document = result["document"]
            log.info("graded %s of %s: %g/%g in %.1f s (%d attempt%s)", task.get("student"),
                     task.get("exercise"), document.get("score", 0),
                     document.get("max_score", 0), result["seconds"], result["attempts"],
                     "" if result["attempts"] == 1 else "s")
        return result


def run_worker(url: str, runner: Runner, root: Path, jobs: int, image: str,
               visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
               name: str | None = None) -> int:
    """Take tasks from the queue at ``url`` until stopped (Ctrl-C: finish what runs)."""
    app = make_app(url, worker=True, visibility_timeout=visibility_timeout)
    settings = WorkerSettings(root, runner, image, visibility_timeout)
    register(app, settings)
    # Celery logs every answer whole at INFO; the worker's own line says what matters.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    hostname = name or default_name()
    print(f"grader worker {hostname}: grading with the {runner.name} runner, {jobs} at "
          f"once, the exercises of {root}, tasks of {safe_url(url)} (visibility timeout "
          f"{visibility_timeout:.0f} s)", flush=True)
    worker = app.Worker(hostname=hostname, pool_cls="threads", concurrency=jobs,
                        queues=[QUEUE], loglevel="INFO", quiet=True, without_gossip=True,
                        without_mingle=True, without_heartbeat=True, optimization="fair")
    worker.start()
    return worker.exitcode or 0
