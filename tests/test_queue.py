"""``grader batch --broker``: a class graded by ``grader worker`` processes on a shared queue.

Real parts only: a redis-server of the test's own on 127.0.0.1 (a free port, its data in
the test's folder, stopped at the end), real ``grader worker`` processes (local runner),
real ``grader batch`` coordinators, each test on a Redis database of its own. What "done"
means: every student's result and grades.csv row are those of a local ``grader batch
--runner local`` of the same class; a worker SIGKILLed mid-grade has its task graded by the
other worker, and leaves nothing running; a coordinator SIGKILLed and started again with
the same command finishes the class with no student graded twice; a broker stopped
mid-batch stalls the batch, which says so, and comes back with nothing lost or invented; a
worker with other checks refuses, and the next run grades; Ctrl-C revokes what has not
started.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from cases import TOP
from dockerwatch import host_processes
from grader.session.waiting import wait_until

EXERCISE = "02-tcp-server"
REFERENCE = TOP / "reference" / EXERCISE
FAULTY = TOP / "tests" / "faulty" / EXERCISE / "test_replies_thank_you"
STYLE = TOP / "tests" / "correct" / EXERCISE / "socketserver"
GRADED_BY_WORKERS = ["faulty", "huge", "missing", "ref", "style"]
CLASS = GRADED_BY_WORKERS + ["a_file"]
QUEUE = "tcp-grader"  # grader.host.queueapp.QUEUE: the Redis list of waiting tasks
SHORT_VISIBILITY = 10  # seconds: a killed worker's task goes to another worker this soon
BATCH_DEADLINE = 240


def unavailable(why: str):
    """Skipped on a developer's machine, a failure in CI: the queue's tests must run there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {why}; .ci/run installs it", pytrace=False)
    pytest.skip(why)


# -- the broker ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """A redis-server of the test's own. Its data is kept in its folder, appended and
    synced on every write, so that a broker stopped and started again has lost nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--logfile", str(self.folder / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self.answers, 30), (self.folder / "redis.log").read_text()

    def answers(self) -> bool:
        import redis
        try:
            return bool(self.client(0).ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis-server syncs its data and exits
            self.process.wait(timeout=30)

    def client(self, db: int):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=5)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed (apt-get install redis-server)")
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as error:
        unavailable(f"Celery with Redis is not installed ({error}; pip install -e '.[test]')")
    server = Broker(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


DATABASES = itertools.count(1)  # one Redis database (queue and answers) per test


@pytest.fixture
def queue(broker) -> str:
    db = next(DATABASES) % 16
    broker.client(db).flushdb()
    return broker.url(db)


# -- workers and coordinators ----------------------------------------------------------------

@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """The exercises every grader of these tests uses: a copy taken once, so that the
    coordinators and the workers grade with the same checks even while the checkout's
    are being edited."""
    root = tmp_path_factory.mktemp("kit") / "exercises"
    shutil.copytree(TOP / "exercises" / EXERCISE, root / EXERCISE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


class Worker:
    """A ``grader worker`` process (local runner, one grade at a time), with its own
    TMPDIR: the scratch folders of its gradings, and so its sessions' command lines, are
    under it."""

    def __init__(self, name: str, url: str, folder: Path, exercises: Path,
                 visibility: float | None = None) -> None:
        self.name = f"{name}@queue-test"
        self.log = folder / f"worker-{name}.log"
        self.tmp = folder / f"tmp-{name}"
        self.tmp.mkdir()
        command = [sys.executable, "-m", "grader", "--exercises", str(exercises), "worker",
                   "--broker", url, "--runner", "local", "-j", "1", "--name", self.name]
        if visibility:
            command += ["--visibility-timeout", str(visibility)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=TOP, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            env=dict(os.environ, TMPDIR=str(self.tmp)))
        assert wait_until(lambda: f"{self.name} ready." in self.text()
                          or self.process.poll() is not None, 60), self.text()
        assert self.process.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def graded(self) -> list[str]:
        return re.findall(r"graded (\S+) of ", self.text())

    def grading_now(self) -> list[str]:
        """The students whose sessions run under this worker now."""
        return sorted({match.group(1) for _pid, command in host_processes(mentioning=str(self.tmp))
                       if "grader.session" in command
                       for match in [re.search(r"/queue-[^/]+/([^/\s]+)", command)] if match})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # a warm shutdown: nothing runs now
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def workers(queue, kit, tmp_path):
    """Start workers on this test's queue (with the tests' kit, unless told another);
    every one is stopped when the test ends."""
    started: list[Worker] = []

    def start(name: str, exercises: Path = kit, visibility: float | None = None) -> Worker:
        started.append(Worker(name, queue, tmp_path, exercises, visibility))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@dataclass(frozen=True)
class Class:
    root: Path  # one folder per student
    kit: Path  # the exercises every grader of these tests uses
    local: Path  # what ``grader batch --runner local`` wrote for the class


def batch_command(url: str, school: Class, out: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "--exercises", str(school.kit), "batch", EXERCISE,
            str(school.root), "--out", str(out), "--broker", url]


def run_batch(url: str, school: Class, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(batch_command(url, school, out), cwd=TOP, text=True,
                          capture_output=True, timeout=BATCH_DEADLINE)


def start_batch(url: str, school: Class, out: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as stream:
        return subprocess.Popen(batch_command(url, school, out), cwd=TOP, stdout=stream,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def finish(coordinator: subprocess.Popen, log: Path) -> str:
    try:
        coordinator.wait(timeout=BATCH_DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait()
        pytest.fail(f"the batch did not finish:\n{log.read_text(errors='replace')}")
    return log.read_text(encoding="utf-8", errors="replace")


def written(out: Path) -> list[str]:
    return sorted(path.parent.name for path in out.glob("*/results.json"))


# -- the class and what the local batch gives it ---------------------------------------------

def hand_in(root: Path) -> Path:
    """The reference, another correct style, a faulty program, a program over the 1 MiB
    limit, a missing program (beside a file whose name is not UTF-8), and a file where a
    folder should be."""
    root.mkdir()
    shutil.copytree(REFERENCE, root / "ref")
    shutil.copytree(STYLE, root / "style")
    shutil.copytree(FAULTY, root / "faulty")
    (root / "huge").mkdir()
    (root / "huge" / "server.py").write_bytes(b"#" * (2 * 1024 * 1024))
    (root / "missing").mkdir()
    with open(os.path.join(os.fsencode(root / "missing"), b"notes\xff.txt"), "wb") as notes:
        notes.write(b"my server is not done yet\n")
    (root / "a_file").write_text("not a folder")
    return root


@pytest.fixture(scope="module")
def school(kit, tmp_path_factory) -> Class:
    """The class, and the results of ``grader batch --runner local`` for it."""
    top = tmp_path_factory.mktemp("local")
    root = hand_in(top / "class")
    out = top / "out"
    result = subprocess.run([sys.executable, "-m", "grader", "--exercises", str(kit), "batch",
                             EXERCISE, str(root), "--out", str(out), "--runner", "local",
                             "-j", "2"], cwd=TOP, text=True, capture_output=True,
                            timeout=BATCH_DEADLINE)
    assert result.returncode == 0, result.stderr
    return Class(root, kit, out)


EVIDENCE = "\n\nWhat the grader saw:"  # where a failed check's feedback ends


def comparable(document: dict) -> dict:
    """A result without what changes from one grading to the next: times, port numbers,
    which machine graded it, and the evidence under the feedback (a wire log, the output
    seen so far: observations, whose timing a loaded machine changes)."""
    kept = {key: document.get(key) for key in ("student", "score", "max_score", "attempts",
                                               "notes", "runner_error", "grading_error",
                                               "not_started")}
    kept["tests"] = [(test["check"], test["name"], test["score"], test["max_score"],
                      test["status"], test["lesson"], test["program"],
                      re.sub(r"\d+", "#", test["output"].split(EVIDENCE)[0]))
                     for test in document["tests"]]
    return kept


def read(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text(encoding="utf-8"))


def assert_same_as_local(out: Path, local_out: Path) -> None:
    assert written(out) == sorted(CLASS)
    for student in CLASS:
        assert comparable(read(out, student)) == comparable(read(local_out, student)), student
    assert (out / "grades.csv").read_text(encoding="utf-8") == \
        (local_out / "grades.csv").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert all(f">{student}<" in page for student in CLASS)


# -- the tests ---------------------------------------------------------------------------------

def test_the_queue_grades_like_the_local_batch(queue, workers, school, tmp_path):
    first, second = workers("a"), workers("b")
    out = tmp_path / "out"
    result = run_batch(queue, school, out)
    assert result.returncode == 0, result.stderr
    assert_same_as_local(out, school.local)
    by = {student: read(out, student)["worker"] for student in GRADED_BY_WORKERS}
    assert set(by.values()) == {first.name, second.name}, by  # both took their share
    assert "0 queued, 2 workers seen" in result.stderr, result.stderr
    assert sorted(first.graded() + second.graded()) == GRADED_BY_WORKERS

    again = run_batch(queue, school, out)  # every student has a grade: nothing to send
    assert again.returncode == 0 and f"{len(CLASS)} students already graded" in again.stderr
    assert sorted(first.graded() + second.graded()) == GRADED_BY_WORKERS


def test_a_worker_killed_mid_grade_has_its_task_graded_by_the_other(
        queue, workers, school, tmp_path):
    doomed = workers("a", visibility=SHORT_VISIBILITY)
    other = workers("b", visibility=SHORT_VISIBILITY)
    out, log = tmp_path / "out", tmp_path / "batch.log"
    coordinator = start_batch(queue, school, out, log)
    victims = wait_until(doomed.grading_now, 60)
    assert victims, log.read_text()
    os.kill(doomed.process.pid, signal.SIGKILL)  # the worker alone: its sessions are its reaper's
    doomed.process.wait()
    stderr = finish(coordinator, log)
    assert coordinator.returncode == 0, stderr
    assert_same_as_local(out, school.local)
    for victim in victims:
        assert read(out, victim)["worker"] == other.name, victim
        assert victim not in doomed.graded()
    assert Counter(other.graded() + doomed.graded()).keys() == set(GRADED_BY_WORKERS)
    # Nothing of the killed worker runs on, and its scratch space is gone.
    assert wait_until(lambda: not host_processes(mentioning=str(doomed.tmp)), 60), \
        host_processes(mentioning=str(doomed.tmp))
    assert wait_until(lambda: not any(doomed.tmp.iterdir()), 60), list(doomed.tmp.iterdir())


def test_a_coordinator_killed_and_started_again_grades_nobody_twice(
        queue, workers, school, tmp_path):
    first, second = workers("a"), workers("b")
    out, log = tmp_path / "out", tmp_path / "batch.log"
    coordinator = start_batch(queue, school, out, log)
    # a_file is recorded before anything is sent: wait for a worker's result too.
    assert wait_until(lambda: len(written(out)) >= 2, 120), log.read_text()
    os.killpg(coordinator.pid, signal.SIGKILL)
    coordinator.wait()
    kept = {student: (out / student / "results.json").stat().st_mtime_ns
            for student in written(out)}
    assert len(kept) < len(CLASS), "the class was done before the coordinator was killed"

    again = run_batch(queue, school, out)
    assert again.returncode == 0, again.stderr
    assert f"{len(kept)} students already graded" in again.stderr
    assert all((out / student / "results.json").stat().st_mtime_ns == mtime
               for student, mtime in kept.items()), "a result was written again"
    assert_same_as_local(out, school.local)
    # The tasks of the first run were taken over, not sent again: one grading each.
    assert Counter(first.graded() + second.graded()) == Counter(GRADED_BY_WORKERS)


def test_a_broker_that_goes_away_stalls_the_batch_which_loses_nothing(
        broker, queue, workers, school, tmp_path):
    workers("a"), workers("b")
    out, log = tmp_path / "out", tmp_path / "batch.log"
    coordinator = start_batch(queue, school, out, log)
    assert wait_until(lambda: len(written(out)) >= 2, 120), log.read_text()
    broker.stop()
    try:
        assert wait_until(lambda: "is unreachable" in log.read_text(errors="replace"), 60), \
            log.read_text()
        assert coordinator.poll() is None, "the batch did not wait for its broker"
    finally:
        broker.start()  # the same port, the same data
    stderr = finish(coordinator, log)
    assert coordinator.returncode == 0, stderr
    assert "the broker is back after" in stderr
    assert_same_as_local(out, school.local)


def test_a_worker_with_other_checks_refuses_and_the_next_run_grades(
        queue, workers, school, tmp_path):
    other_kit = tmp_path / "exercises"
    shutil.copytree(school.kit, other_kit)
    checks = other_kit / EXERCISE / "checks" / "test_server.py"
    checks.write_text(checks.read_text(encoding="utf-8") + "\n# another teacher's edit\n",
                      encoding="utf-8")
    odd = workers("odd", other_kit)
    out = tmp_path / "out"
    refused = run_batch(queue, school, out)
    assert refused.returncode == 1, refused.stderr
    assert "could not be graded because the runner failed" in refused.stderr
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(
        (out / "grades.csv").read_text(encoding="utf-8")))}
    for student in GRADED_BY_WORKERS:
        error = read(out, student)["runner_error"]
        assert f"worker {odd.name} refused the task" in error and \
            "are not the coordinator's" in error, error
        assert rows[student]["status"].startswith("not graded, the runner failed"), rows[student]
    assert odd.graded() == []
    odd.stop()

    workers("good")
    again = run_batch(queue, school, out)
    assert again.returncode == 0, again.stderr
    assert "1 students already graded" in again.stderr  # a_file: a grade, not a failure
    assert_same_as_local(out, school.local)


def test_ctrl_c_revokes_what_has_not_started(broker, queue, workers, school, tmp_path):
    out, log = tmp_path / "out", tmp_path / "batch.log"
    db = broker.client(int(queue.rsplit("/", 1)[1]))
    coordinator = start_batch(queue, school, out, log)  # no worker yet: every task waits
    assert wait_until(lambda: db.llen(QUEUE) == len(GRADED_BY_WORKERS), 60), log.read_text()
    os.killpg(coordinator.pid, signal.SIGINT)
    assert finish(coordinator, log) and coordinator.returncode == 130, log.read_text()
    assert f"revoked {len(GRADED_BY_WORKERS)} tasks not started" in log.read_text()

    # A worker started afterwards never heard Celery's revoke: the store tells it.
    late = workers("late")
    assert wait_until(lambda: late.text().count("revoked before it started")
                      == len(GRADED_BY_WORKERS), 60), late.text()
    assert wait_until(lambda: db.llen(QUEUE) == 0, 30)
    assert late.graded() == []

    again = run_batch(queue, school, out)
    assert again.returncode == 0, again.stderr
    assert sorted(late.graded()) == GRADED_BY_WORKERS
    assert_same_as_local(out, school.local)
