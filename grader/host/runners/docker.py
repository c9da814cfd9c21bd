"""The docker runner: the same grading session, inside a hardened container.

What an instructor uses for untrusted submissions. The container:

- has no network but its own loopback (``network_mode="none"``): all grading traffic is
  between the grader and the student's program inside it;
- has memory (swap included), process and CPU limits, and a wall-clock deadline after which
  it is killed; the checks it reported by then are kept, the others failed with the reason;
- has a read-only root filesystem and a size-limited tmpfs for scratch space;
- drops every capability but those the grader needs to run the student's program under its
  own unprivileged uid, to watch it, to drop packets on its own loopback and to capture
  them there for the wire view (SETUID, SETGID, KILL, SYS_PTRACE, DAC_READ_SEARCH, NET_ADMIN,
  NET_RAW), with ``no-new-privileges``; the student's uid has none;
- holds the checks in a folder only root can read, and receives the submission read-only
  and the results folder writable by root only, so the student's program (a uid of its
  own, 2000 and up) can neither read the checks nor write or replace the results, nor signal
  the grader;
- gives the student's programs a uid no other container of this grader uses at the same
  time (``student_uid``), so that the kernel's per-uid process limit (RLIMIT_NPROC, which
  counts a uid's processes across every container) stops a fork bomb below the container's
  own limit, with room left for the grader, and never counts another student's processes.

The host and the image agree on what grades: the exercise's folder (its checks) is the
host's, mounted read-only under the root-only ``/opt/grader`` at run time, and the session
refuses to grade when the image's grader code is not the host's (``grader.fingerprint``),
which is a runner failure that says to rebuild the image, never a grade.

Every container carries the ``tcp-grader`` label and is removed when its grade is done, also
when the grader is interrupted. If the grader is killed outright, its reaper (``reaper``)
removes them.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ... import results
from ...fingerprint import VARIABLE as FINGERPRINT_VARIABLE, code_fingerprint
from ...language import Message
from ...submission import copy_submission
from . import GradeRequest, reaper, session_arguments
from .engine import LABEL, OWNER_LABEL, client, remove_container, remove_labelled
from .local import timed_out

STUDENT_UID = 2000  # the image's user "student"; the first of the uids a container may get
STUDENT_UIDS = range(STUDENT_UID, STUDENT_UID + 256)
# The container's process limit, and the student uid's part of it: the rest is the grader's
# (its checks, the network agent, nft), which a fork bomb must never starve.
CONTAINER_PIDS = 384
STUDENT_PROCESSES = 256
COPY_NOTES = "copy-notes.json"  # what the host's copy of the submission left out
EXERCISES_IN_IMAGE = "/opt/grader/exercises"
LOG_CAP = 20_000
# SETUID/SETGID: run the student's program as its own uid; KILL: stop it; SYS_PTRACE and
# DAC_READ_SEARCH: read its /proc entries (sockets, fds, waiting at input()), which are
# another uid's; NET_ADMIN: drop a vanished client's packets in the container's own network
# namespace, which holds nothing but loopback.
CAPABILITIES = ["SETUID", "SETGID", "KILL", "SYS_PTRACE", "DAC_READ_SEARCH", "NET_ADMIN",
                "NET_RAW"]
KILLED = Message("the grading container was killed (out of memory or a limit was hit); "
                 "this check was not reached",
                 "评分容器被杀死（内存耗尽或触及限制）；这一项没有被执行到")


# The container has one CPU, and the student's programs run at SCHED_IDLE in it: with every
# check at once their programs would miss deadlines a quiet machine meets. Four at a time
# keeps a hung program's exercise short and a correct program's timing that of one CPU.
CONTAINER_PARALLEL = 4


def _capped(request: GradeRequest) -> GradeRequest:
    if request.parallel is not None and request.parallel <= CONTAINER_PARALLEL:
        return request
    return dataclasses.replace(request, parallel=CONTAINER_PARALLEL)


@contextmanager
def student_uid() -> Iterator[int]:
    """A uid for one container's student, held (a lock file of this host user's) until the
    container is gone, so that containers graded side by side, by any process of this user,
    never share one. The folder is /tmp's, never TMPDIR's: graders started with different
    TMPDIRs share the engine, so they must share the leases too."""
    folder = Path("/tmp") / f"tcp-grader-{os.getuid()}-student-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != os.getuid():
        raise RuntimeError(f"{folder} is not this user's own folder")
    for uid in STUDENT_UIDS:
        fd = os.open(folder / f"uid-{uid}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"more than {len(STUDENT_UIDS)} containers at once")


def container_options(request: GradeRequest, work: Path, token: str,
                      uid: int = STUDENT_UID) -> dict:
    """Everything ``containers.run`` is given: the hardening lives in this one place."""
    exercise_folder = f"{EXERCISES_IN_IMAGE}/{request.exercise.exercise_id}"
    return dict(
        image=request.image,
        command=["python3", "-I", "-m", "grader.session", *session_arguments(
            _capped(request), exercise_folder, "/submission", "/results/results.json", "/tmp/grader",
            f"/results/{COPY_NOTES}")],
        detach=True,
        user="0:0",
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=256m,mode=1777"},
        volumes={str(work / "submission"): {"bind": "/submission", "mode": "ro"},
                 str(work / "results"): {"bind": "/results", "mode": "rw"},
                 str(request.exercise.folder.resolve()): {"bind": exercise_folder,
                                                          "mode": "ro"}},
        mem_limit="1g",
        memswap_limit="1g",
        pids_limit=CONTAINER_PIDS,
        nano_cpus=1_000_000_000,
        cap_drop=["ALL"],
        cap_add=CAPABILITIES,
        security_opt=["no-new-privileges"],
        environment={"GRADER_STUDENT_UID": str(uid), "GRADER_SESSION": token,
                     "GRADER_STUDENT_PROCESSES": str(STUDENT_PROCESSES),
                     "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
                     "GRADER_NETNS": "container", FINGERPRINT_VARIABLE: code_fingerprint()},
        labels={LABEL: "1", f"{LABEL}.session": token,
                OWNER_LABEL: reaper.owner(containers=True),
                f"{LABEL}.exercise": request.exercise.exercise_id, **request.labels},
        ulimits=[{"name": "nofile", "soft": 4096, "hard": 4096},
                 {"name": "core", "soft": 0, "hard": 0}],
        working_dir="/tmp",
        init=True,
    )


class DockerRunner:
    name = "docker"

    def __init__(self) -> None:
        self.active: set[str] = set()  # sessions running now (for cancel_all)

    def check_available(self) -> None:
        client()  # raises EngineUnavailable, with the reason

    def cancel_all(self) -> None:
        for token in list(self.active):
            remove_labelled(client(), f"{LABEL}.session={token}")

    def remove_leftovers(self, labels: dict[str, str]) -> None:
        engine = client()
        for key, value in labels.items():
            remove_labelled(engine, f"{key}={value}")

    def grade(self, request: GradeRequest) -> dict:
        engine = client()
        started = time.monotonic()
        token = uuid.uuid4().hex
        self.active.add(token)
        work = reaper.work_folder("docker-")
        container = None
        try:
            (work / "results").mkdir(mode=0o700)
            notes = copy_submission(request.submission, work / "submission")
            (work / "submission").chmod(0o755)
            (work / "results" / COPY_NOTES).write_text(json.dumps(notes), encoding="utf-8")
            with student_uid() as uid:  # held until its container is gone
                try:
                    container = engine.containers.run(
                        **container_options(request, work, token, uid))
                    reason, runner_error = _wait(container, request.timeout)
                finally:
                    # By label, not only by handle: an interruption may come between the
                    # container's creation and the moment ``run`` returns it.
                    if container is not None:
                        remove_container(container)
                    remove_labelled(engine, f"{LABEL}.session={token}")
            document = results.read(work / "results" / "results.json")
            if document is not None:
                results.add_notes(document, notes)
            return results.complete(document, request.exercise.checks(),
                                    reason or results.NOT_REPORTED,
                                    time.monotonic() - started, request.lang, runner_error)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self.active.discard(token)


def _wait(container, timeout: float) -> tuple[Message | str, bool]:
    """Wait for the session: the reason it did not finish normally (or ''), and whether
    that is the grader's failure rather than the submission's."""
    try:
        status = container.wait(timeout=timeout)
    except Exception:  # requests' ReadTimeout (or ConnectionError) at the deadline
        remove_container(container)  # kill it; it may have ended meanwhile
        return timed_out(timeout, "the container was"), False
    code = status.get("StatusCode", -1)
    if code in (0, 1):
        return "", False
    if code == 137:
        return KILLED, False
    logs = container.logs(tail=50)[-LOG_CAP:].decode("utf-8", "replace")
    return f"the grading session ended abnormally (status {code}):\n{logs}", True


RUNNER = DockerRunner()
