"""``grader batch --broker``: a class's students sent to a shared queue, their results gathered.

The coordinator is a pool of the batch (``grader.host.batch.Pool``): the batch takes the
class in, skips the students already graded and writes the class's reports, as it does
locally; this pool sends every other student's submission as one task (``queuetask``) and
records each answer (``Batch.record``, atomic) the moment it is seen in the store of
answers, so no filesystem is shared between the machines.

Rule 1, nothing lost. Each task's id is recorded in Redis beside the task, under the batch
and the student (``record_key``), with the digest of what it grades. A coordinator killed
and started again with the same command adopts the tasks an earlier run sent for the same
submissions and waits for them, taking at once the answers that came while it was away.
A record missing after the broker came back means the broker lost its memory, queue
included: that task is sent again. A broker that goes away stalls the batch, which says so
and waits; it never records what it did not get from a worker.
Rule 2, nothing twice. A student's result is written once, from the first answer that
arrives (a student may have several tasks: an adopted one, one sent again); the others are
ignored. An answer that is not a grade (a refusal, a failure) is never adopted by a later
run: that student is graded again.
Rule 3, Ctrl-C revokes what has not started (Celery's revoke, and the revocation in the store,
for workers that were not listening); what runs goes on, and the next run takes its answer.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field

from .. import results
from .batch import Batch, Progress, problem_document
from .intake import Student
from .queueapp import QUEUE, TASK_NAME, broker_errors, make_app, safe_url
from .queuetask import kit_digest, make_task, pack, read_answer, task_digest

POLL = 0.5  # seconds between two looks at the store of answers
PING_EVERY = 5.0  # seconds between two roll calls of the workers
NO_WORKER_HINT = 15.0  # seconds without a worker answering before the batch says so
SUCCESS, FAILURE, REVOKED, STARTED = "SUCCESS", "FAILURE", "REVOKED", "STARTED"


def record_key(label: str, slug: str) -> str:
    return f"tcp-grader-batch-{label}-{slug}"


@dataclass
class Track:
    """One student on the queue."""

    student: Student
    task: dict
    digest: str
    notes: list[str]  # what the task could not carry, added to the result
    ids: list[str] = field(default_factory=list)  # every task for the student, newest last
    adopted: set[str] = field(default_factory=set)  # those an earlier run sent
    sent: bool = False  # the newest task is on the queue
    recorded: bool = False  # ``ids`` are in the store (what a restarted run adopts)
    state: str = "PENDING"  # of the newest task, as last seen


class QueueUnreachable(Exception):
    """The broker cannot be reached when the batch starts."""


class QueuePool:
    """A ``grader.host.batch.Pool`` whose students are graded by the queue's workers."""

    def __init__(self, url: str, stream=sys.stderr) -> None:
        self.url, self.stream = url, stream
        self.app = make_app(url)
        self.errors = broker_errors()
        self.workers: set[str] = set()
        self.gone_since: float | None = None
        self.look_for_lost = False  # after an outage: is a task's record still there?
        self.last_ping = 0.0
        self.last_answer = time.monotonic()  # when a worker last answered the roll call
        self.hinted = False

    def say(self, text: str) -> None:
        self.stream.write(f"grader batch: {text}\n")
        self.stream.flush()

    # -- the broker --------------------------------------------------------------------

    def check_reachable(self) -> None:
        """Raise ``QueueUnreachable`` (with the reason) unless the broker answers."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=5)
            self.app.backend.get(record_key("probe", "probe"))
        except self.errors as error:
            raise QueueUnreachable(f"cannot reach the broker at {safe_url(self.url)}: "
                                   f"{type(error).__name__}: {error}") from error

    def broker_gone(self, error: BaseException, progress: Progress) -> None:
        now = time.monotonic()
        if self.gone_since is None:
            self.gone_since = now
            self.say(f"the broker at {safe_url(self.url)} is unreachable "
                     f"({type(error).__name__}: {error}); the batch waits for it, and the "
                     f"results written so far are kept")
        progress.trouble = (f"the broker has been unreachable for {now - self.gone_since:.0f} s, "
                            f"waiting for it")

    def broker_back(self, progress: Progress) -> None:
        if self.gone_since is not None:
            self.say(f"the broker is back after {time.monotonic() - self.gone_since:.0f} s")
            self.gone_since = None
            progress.trouble = ""
            self.look_for_lost = True

    # -- sending and adopting ----------------------------------------------------------

    def track(self, batch: Batch, student: Student, kit: str) -> Track:
        submission, notes = pack(student.folder, batch.exercise.programs)
        task = make_task(batch.exercise, student.slug, submission, batch.options.lang,
                         batch.options.timeout, batch.label, kit)
        return Track(student, task, task_digest(task), notes)

    def adopt(self, batch: Batch, tracks: dict[str, Track]) -> None:
        """Take over the tasks an earlier run sent for the same submissions."""
        keys = [record_key(batch.label, slug) for slug in tracks]
        adopted = 0
        for (slug, track), value in zip(tracks.items(), self.app.backend.mget(keys)):
            try:
                record = json.loads(value) if value else None
            except ValueError:
                record = None
            if isinstance(record, dict) and record.get("digest") == track.digest and \
                    isinstance(record.get("tasks"), list) and record["tasks"]:
                track.ids = [str(task_id) for task_id in record["tasks"]]
                track.adopted = set(track.ids)
                track.sent = track.recorded = True
                adopted += 1
        if adopted:
            self.say(f"taking over the tasks an earlier run sent for {adopted} students "
                     f"(their answers, or those still to come; those it revoked are sent "
                     f"again)")

    def send(self, batch: Batch, tracks: dict[str, Track]) -> None:
        for track in tracks.values():
            if not track.sent:
                # The id is known before the task is sent: a Ctrl-C in between revokes it
                # all the same. Recorded in Redis only once sent: a coordinator killed
                # between the two sends the task again next run (graded twice, written
                # once), never waits for a task that was not sent.
                task_id = str(uuid.uuid4())
                track.ids.append(task_id)
                try:
                    self.app.send_task(TASK_NAME, args=[track.task], task_id=task_id,
                                       queue=QUEUE)
                except self.errors:
                    track.ids.remove(task_id)  # not sent: sent again once the broker is back
                    raise
                track.sent, track.recorded, track.state = True, False, "PENDING"
            if not track.recorded:
                self.app.backend.set(record_key(batch.label, track.student.slug),
                                     json.dumps({"digest": track.digest, "tasks": track.ids}))
                track.recorded = True

    def forget(self, batch: Batch, track: Track) -> None:
        """The student's record is no longer needed (best effort: a later run never adopts
        an answer that is not a grade)."""
        try:
            self.app.backend.delete(record_key(batch.label, track.student.slug))
        except self.errors:
            pass

    # -- gathering ---------------------------------------------------------------------

    def metas(self, tracks: dict[str, Track]) -> dict[str, dict]:
        """The stored state of every task of these students, by task id."""
        backend = self.app.backend
        ids = [task_id for track in tracks.values() for task_id in track.ids]
        if not ids:
            return {}
        values = backend.mget([backend.get_key_for_task(task_id) for task_id in ids])
        return {task_id: backend.decode_result(value)
                for task_id, value in zip(ids, values) if value}

    def gather(self, batch: Batch, tracks: dict[str, Track], progress: Progress) -> None:
        """Record every answer that is in; note what is queued and what runs."""
        metas = self.metas(tracks)
        for slug, track in list(tracks.items()):
            seen = {task_id: metas[task_id] for task_id in track.ids if task_id in metas}
            for meta in seen.values():
                if isinstance(meta.get("result"), dict) and meta["result"].get("worker"):
                    self.workers.add(str(meta["result"]["worker"]))
            done = next((task_id for task_id, meta in seen.items()
                         if meta.get("status") == SUCCESS), None)
            newest = seen.get(track.ids[-1], {}) if track.ids else {}
            if done is not None:
                result = seen[done].get("result")
                document, why = read_answer(result)
                if done in track.adopted and not results.is_grade(document):
                    # An earlier run's answer that is not a grade (a refusal, a runner
                    # failure) was recorded then; this run grades the student again.
                    track.ids = [task_id for task_id in track.ids if task_id not in track.adopted]
                    track.adopted.clear()
                    track.sent = bool(track.ids)
                    track.recorded = False
                    continue
                self.take(batch, track, result, document, why, progress)
                del tracks[slug]
            elif newest.get("status") == FAILURE:
                self.take(batch, track, {}, None, f"the worker failed: {newest.get('result')}",
                          progress)
                del tracks[slug]
            elif newest.get("status") == REVOKED:
                track.sent = False  # revoked by an earlier run's Ctrl-C: send it again
            else:
                track.state = newest.get("status", "PENDING")
        if self.look_for_lost:
            self.send_lost(batch, tracks, metas)
        progress.running = sum(track.state == STARTED for track in tracks.values())
        progress.queued = len(tracks) - progress.running
        progress.jobs = max(1, progress.running)

    def send_lost(self, batch: Batch, tracks: dict[str, Track], metas: dict[str, dict]) -> None:
        """After an outage: a task with no state whose record is gone was lost with the
        broker's memory; it is sent again."""
        waiting = [track for track in tracks.values()
                   if track.sent and track.recorded and not any(i in metas for i in track.ids)]
        values = self.app.backend.mget([record_key(batch.label, track.student.slug)
                                        for track in waiting]) if waiting else []
        lost = [track for track, value in zip(waiting, values) if not value]
        for track in lost:
            track.sent = False
        if lost:
            self.say(f"the broker lost {len(lost)} tasks (it started again without its "
                     f"data); sending them again")
        self.look_for_lost = False

    def take(self, batch: Batch, track: Track, result: dict, document: dict | None,
             why: str, progress: Progress) -> None:
        attempts = 0
        if document is None:
            document = batch.runner_failure(why)
        else:
            attempts = int(result.get("attempts", 1))
            document = dict(document, worker=str(result.get("worker", "")))
        failed = batch.record(track.student, document, attempts, track.notes)
        progress.recorded(float(result["seconds"]) if result.get("seconds") else None, failed)
        self.forget(batch, track)

    def roll_call(self) -> None:
        """Which workers answer (every ``PING_EVERY`` s): the progress line counts them."""
        if time.monotonic() - self.last_ping < PING_EVERY:
            return
        self.last_ping = time.monotonic()
        replies = self.app.control.ping(timeout=0.5) or []
        for reply in replies:
            self.workers.update(reply)
        if replies:
            self.last_answer, self.hinted = time.monotonic(), False

    def no_worker(self, progress: Progress) -> None:
        """Tasks wait and no worker answers: say how to start one (once, and on the
        progress line until one answers)."""
        silent = time.monotonic() - self.last_answer > NO_WORKER_HINT
        hint = (f"no worker answers: start `grader worker --broker {safe_url(self.url)}` "
                f"on the grading machines")
        if silent and not self.hinted:
            self.hinted = True
            self.say(hint)
        if silent and not progress.trouble:
            progress.trouble = hint
        elif not silent and progress.trouble == hint:
            progress.trouble = ""

    # -- the class ---------------------------------------------------------------------

    def grade_all(self, batch: Batch, todo: list[Student]) -> bool:
        progress = Progress(len(todo), 1, self.stream)
        progress.queued, progress.workers = 0, 0
        tracks: dict[str, Track] = {}
        kit = kit_digest(batch.exercise)
        for student in todo:
            if student.problem:  # nothing to send: its result is known here
                progress.recorded(None, batch.record(
                    student, problem_document(batch.exercise, student, batch.options.lang), 0))
            else:
                tracks[student.slug] = self.track(batch, student, kit)
        adopting = not batch.options.force  # --force: every student graded anew
        try:
            while tracks:
                try:
                    if adopting:
                        self.adopt(batch, tracks)
                        adopting = False
                    self.gather(batch, tracks, progress)
                    self.send(batch, tracks)
                    self.roll_call()
                    self.broker_back(progress)
                    self.no_worker(progress)
                except self.errors as error:
                    self.broker_gone(error, progress)
                progress.workers = len(self.workers)
                progress.show()
                if tracks:
                    # The batch waits for its workers however long they take (each grade
                    # has its own deadline, on the worker): a look at the store of answers
                    # every POLL seconds, the progress line saying what it waits for.
                    time.sleep(POLL)
            progress.show(final=True)
            if self.workers:
                self.say(f"workers seen: {', '.join(sorted(self.workers))}")
            return False
        except KeyboardInterrupt:
            self.revoke(tracks)
            progress.show(final=True)
            return True

    def revoke(self, tracks: dict[str, Track]) -> None:
        """Ctrl-C: the tasks not started are revoked; those running go on. The records
        stay: the next run takes the answers of those that ran, and sends again those
        it finds revoked."""
        try:
            metas = self.metas(tracks)  # the states of now, not of the last look
            ids = [task_id for track in tracks.values() for task_id in track.ids
                   if metas.get(task_id, {}).get("status") not in (STARTED, SUCCESS, FAILURE)]
            if ids:
                self.app.control.revoke(ids)
                # Also in the store, for the workers that did not hear the revoke: each
                # looks there before it grades.
                for task_id in ids:
                    self.app.backend.mark_as_revoked(task_id, "the coordinator was interrupted")
        except self.errors as error:
            self.say(f"could not revoke the tasks not started ({type(error).__name__}: "
                     f"{error}); the workers will grade them, and the next run takes those "
                     f"answers")
            return
        running = sum(meta.get("status") == STARTED for meta in metas.values())
        self.say(f"revoked {len(ids)} tasks not started; {running} running on the workers "
                 f"go on, and the next run takes their results")
