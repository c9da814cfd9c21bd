"""The reaper: nothing a grader started outlives it, however the grader ends.

Why: ``finally`` blocks and the SIGTERM handler clean up after Ctrl-C and ``kill``, but
nothing runs in a process killed with SIGKILL (``kill -9``, the OOM killer, a CI job's
time limit). Its grading sessions would go on running, and so would its containers.

How: the first time a process starts a grading session it starts one reaper, a small
process in a session of its own (so a signal to the grader's process group spares it). The
reaper holds the read end of a pipe whose write end only the grader holds, and blocks in
``read()``. However the grader ends, the kernel closes the write end: the reaper reads
end-of-file, kills every local session whose token starts with the grader's owner token
(each session's keeper, ``grader.session.containment``, then kills what the submission left
and exits), waits for those keepers, clears what a keeper killed outright could not (its
cgroup, its student uid), removes every container labelled with that token if the grader
said it used containers, and removes the grader's work folder, under which every session's
scratch space was made.
While the grader lives the reaper costs nothing: no polling, no timer. (testcontainers'
"Ryuk" works the same way, with a socket in place of the pipe.)

The reaper's side runs as ``python -I -m grader.host.runners.reaper FD OWNER WORK_ROOT``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ...session import containment

OWNER = uuid.uuid4().hex  # this process's token, carried by its sessions and containers
USED_CONTAINERS = b"d"
# Seconds during which a container create that was in flight when the grader died is still
# expected; the engine answers a create in well under this.
LATE_CREATE_WINDOW = 5

_lock = threading.Lock()
_write_end: int | None = None
_said_containers = False
_reaper: subprocess.Popen | None = None  # kept, so it is never garbage-collected


def owner(containers: bool = False) -> str:
    """This process's owner token, with its reaper running; ``containers``: the token is
    about to label a container, so the reaper must look for containers too."""
    global _write_end, _said_containers, _reaper
    with _lock:
        if _write_end is None:
            read_end, _write_end = os.pipe()  # both ends close on exec: no child inherits them
            _reaper = subprocess.Popen(
                [sys.executable, "-I", "-m", __name__, str(read_end), OWNER, str(_work_root())],
                pass_fds=(read_end,), start_new_session=True, cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            os.close(read_end)
            # The reaper is the grader's own, though in a session of its own: a check's sweep
            # in this process must never take it for one of a submission's processes.
            containment.spare(_reaper.pid)
        if containers and not _said_containers:
            os.write(_write_end, USED_CONTAINERS)
            _said_containers = True
    return OWNER


def session_token() -> str:
    """A token for one local grading session, which the reaper can find by its prefix."""
    return f"{owner()}-{uuid.uuid4().hex}"


def _work_root() -> Path:
    return Path(tempfile.gettempdir()) / f"tcp-grader-{OWNER}"


def work_folder(prefix: str) -> Path:
    """A new scratch folder for one grading session, inside this process's work root, which
    the reaper removes when this process is gone."""
    owner()
    root = _work_root()
    root.mkdir(mode=0o700, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


# -- the reaper's side ---------------------------------------------------------------------

KEEPER_WAIT = 40.0  # seconds the keepers get to clear up after their sessions were killed


def keepers_of(owner_token: str) -> list[int]:
    """The live keepers of this grader's sessions (found by their command line; a process
    that only looks like one is waited for, never signalled)."""
    needle = f"\0keep\0{owner_token}-".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    if needle in b"\0" + cmdline.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def wait_for_end(read_end: int) -> bool:
    """Block until the grader is gone; True if it used containers."""
    used_containers = False
    while chunk := os.read(read_end, 64):
        used_containers = used_containers or USED_CONTAINERS in chunk
    return used_containers


def remove_containers(owner_token: str) -> None:
    from .engine import OWNER_LABEL, EngineUnavailable, client, remove_labelled
    try:
        engine = client()
    except EngineUnavailable:
        return  # the engine is gone too: there is nothing left to remove
    label = f"{OWNER_LABEL}={owner_token}"
    swept_at = int(time.time())
    remove_labelled(engine, label)
    # A create the grader sent just before it died can land after that sweep: watch the
    # engine's events for one, for a few seconds.
    try:
        for _event in engine.events(decode=True, since=swept_at - 1,
                                    until=swept_at + LATE_CREATE_WINDOW,
                                    filters={"type": "container", "event": "create",
                                             "label": label}):
            remove_labelled(engine, label)
    except Exception:  # the engine went away meanwhile
        pass


def main(argv: list[str]) -> int:
    # A terminal's Ctrl-C or hang-up is meant for the grader; the reaper must outlive it.
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    read_end, owner_token, work_root = int(argv[1]), argv[2], argv[3]
    used_containers = wait_for_end(read_end)
    from ...session.program import kill_sessions_of
    from ...session.waiting import wait_until
    kill_sessions_of(owner_token)
    wait_until(lambda: not keepers_of(owner_token), KEEPER_WAIT, interval=0.05)
    containment.clean_up_owner(owner_token)
    if used_containers:
        remove_containers(owner_token)
    shutil.rmtree(work_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
