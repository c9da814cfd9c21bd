"""The docker runner: the same grading session, inside a hardened container.

What an instructor uses for untrusted submissions. The container:

- has no network but its own loopback (``network_mode="none"``): all grading traffic is
  between the grader and the student's program inside it;
- has memory (swap included), process and CPU limits, and a wall-clock deadline after which
  it is killed; the checks it reported by then are kept, the others failed with the reason;
- has a read-only root filesystem and a size-limited tmpfs for scratch space;
- drops every capability but those the grader needs to run the student's program under its
  own unprivileged uid, to watch it and to drop packets on its own loopback (SETUID, SETGID,
  KILL, SYS_PTRACE, DAC_READ_SEARCH, NET_ADMIN), with ``no-new-privileges``; the student's uid has none;
- holds the checks in a folder only root can read, and receives the submission read-only
  and the results folder writable by root only, so the student's program (uid 2000) can
  neither read the checks nor write or replace the results, nor signal the grader.

Every container carries the ``tcp-grader`` label and is removed when its grade is done, also
when the grader is interrupted. If the grader is killed outright, its reaper (``reaper``)
removes them; ``remove_stale`` removes any left by a machine that went down mid-grade.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

from ..submission import copy_submission
from . import GradeRequest, complete, read_results, reaper
from .errors import EngineUnavailable

LABEL = "tcp-grader"
STUDENT_UID = 2000
EXERCISES_IN_IMAGE = "/opt/grader/exercises"
LOG_CAP = 20_000
# SETUID/SETGID: run the student's program as its own uid; KILL: stop it; SYS_PTRACE and
# DAC_READ_SEARCH: read its /proc entries (sockets, fds, waiting at input()), which are
# another uid's; NET_ADMIN: drop a vanished client's packets in the container's own network
# namespace, which holds nothing but loopback.
CAPABILITIES = ["SETUID", "SETGID", "KILL", "SYS_PTRACE", "DAC_READ_SEARCH", "NET_ADMIN"]


def client():
    try:
        import docker
    except ImportError as error:
        raise EngineUnavailable("the Docker SDK for Python is not installed "
                                "(pip install 'tcp-grader[docker]')") from error
    try:
        engine = docker.from_env(timeout=30)
        engine.ping()
    except Exception as error:  # the SDK raises several kinds for an unreachable engine
        raise EngineUnavailable(f"cannot reach the Docker engine: {error}") from error
    return engine


def container_options(request: GradeRequest, image: str, work: Path, token: str,
                      labels: dict | None = None) -> dict:
    """Everything ``containers.run`` is given: the hardening lives in this one place."""
    exercise_folder = f"{EXERCISES_IN_IMAGE}/{request.exercise.exercise_id}"
    return dict(
        image=image,
        command=["python3", "-I", "-m", "grader.session", exercise_folder, "/submission",
                 "/results/results.json", request.lang, "/tmp/grader"],
        detach=True,
        user="0:0",
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=256m,mode=1777"},
        volumes={str(work / "submission"): {"bind": "/submission", "mode": "ro"},
                 str(work / "results"): {"bind": "/results", "mode": "rw"}},
        mem_limit="1g",
        memswap_limit="1g",
        pids_limit=256,
        nano_cpus=1_000_000_000,
        cap_drop=["ALL"],
        cap_add=CAPABILITIES,
        security_opt=["no-new-privileges"],
        environment={"GRADER_STUDENT_UID": str(STUDENT_UID), "GRADER_SESSION": token,
                     "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
                     "GRADER_NETNS": "container"},
        labels={LABEL: "1", f"{LABEL}.session": token,
                reaper.OWNER_LABEL: reaper.owner(containers=True),
                f"{LABEL}.exercise": request.exercise.exercise_id, **(labels or {})},
        ulimits=[{"name": "nofile", "soft": 4096, "hard": 4096},
                 {"name": "core", "soft": 0, "hard": 0}],
        working_dir="/tmp",
        init=True,
    )


_ACTIVE: set[str] = set()  # sessions running now (for cancel_all)


def cancel_all() -> None:
    """Remove the containers of every session this process is running."""
    for token in list(_ACTIVE):
        remove_stale(session=token)


def grade(request: GradeRequest, image: str = "tcp-grader:latest",
          labels: dict | None = None) -> dict:
    engine = client()
    started = time.monotonic()
    token = uuid.uuid4().hex
    _ACTIVE.add(token)
    work = reaper.work_folder("docker-")
    container = None
    reason = ""
    try:
        (work / "results").mkdir(mode=0o700)
        notes = copy_submission(request.submission, work / "submission")
        (work / "submission").chmod(0o755)
        container = engine.containers.run(**container_options(request, image, work, token,
                                                              labels))
        reason = _wait(container, request.timeout)
        document = read_results(work / "results" / "results.json")
        if notes and document:
            document.setdefault("notes", notes)
        return complete(document, request.exercise, reason or
                        "this check was not reported by the grading session",
                        time.monotonic() - started)
    finally:
        # By label, not only by handle: an interruption may come between the container's
        # creation and the moment ``run`` returns it.
        for leftover in [container] if container is not None else []:
            _remove(leftover)
        remove_stale(engine, session=token)
        shutil.rmtree(work, ignore_errors=True)
        _ACTIVE.discard(token)


def _wait(container, timeout: float) -> str:
    """Wait for the session; the reason it did not finish normally, or ''."""
    try:
        status = container.wait(timeout=timeout)
    except Exception:  # requests' ReadTimeout (or ConnectionError) at the deadline
        container.kill()
        return (f"grading did not finish within {timeout:.0f} s and the container was "
                f"stopped; this check was not reached")
    code = status.get("StatusCode", -1)
    if code in (0, 1):
        return ""
    if code == 137:
        return ("the grading container was killed (out of memory or a limit was hit); "
                "this check was not reached")
    logs = container.logs(tail=50)[-LOG_CAP:].decode("utf-8", "replace")
    return f"the grading session ended abnormally (status {code}):\n{logs}"


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:
        pass  # already gone; remove_stale catches anything left


def remove_stale(engine=None, session: str | None = None) -> int:
    """Remove every container with our label (left by a grader that was killed), or only
    those of one grading session."""
    engine = engine or client()
    label = f"{LABEL}.session={session}" if session else LABEL
    return remove_labelled(engine, label)


def remove_labelled(engine, label: str) -> int:
    """Remove every container carrying ``label`` (``key`` or ``key=value``)."""
    try:
        # ignore_removed: a container removed while listed (another grader's) is no error
        stale = engine.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    except Exception:
        return 0  # the engine went away; nothing more can be done from here
    for container in stale:
        _remove(container)
    return len(stale)
