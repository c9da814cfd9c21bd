"""The local runner: the grading session in a separate process on this machine.

What a student's ``tox`` uses. The session runs with ``python -I`` from an empty working
folder, in its own process group, under a wall-clock deadline. Every student process it
started carries the session's marker, so whatever the session leaves behind (because it
crashed or hit the deadline) is killed here; if this process itself is killed, its reaper
(``reaper``) kills the sessions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..program import SESSION_MARKER, kill_session
from . import GradeRequest, complete, read_results, reaper

LOG_TAIL = 2000
_ACTIVE: dict[str, subprocess.Popen] = {}  # sessions running now, by token (for cancel_all)


def grade(request: GradeRequest) -> dict:
    token = reaper.session_token()  # a SIGKILLed grader's reaper finds the session by it
    started = time.monotonic()
    work = reaper.work_folder("session-")
    try:
        reason = _run_session(request, token, work)
        return complete(read_results(work / "results.json"), request.exercise, reason or
                        "this check was not reported by the grading session",
                        time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_session(request: GradeRequest, token: str, work: Path) -> str:
    """Run the session to its end or its deadline; why it did not end normally, or ''."""
    command = [sys.executable, "-I", "-m", "grader.session",
               str(request.exercise.folder), str(request.submission.resolve()),
               str(work / "results.json"), request.lang, str(work / "tmp")]
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
    env[SESSION_MARKER] = token
    log_path = work / "session.log"
    with open(log_path, "wb") as log:
        session = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        _ACTIVE[token] = session
        try:
            session.wait(timeout=request.timeout)
        except subprocess.TimeoutExpired:
            return (f"grading did not finish within {request.timeout:.0f} s and was "
                    f"stopped; this check was not reached")
        finally:
            _stop(session)
            kill_session(token)
            _ACTIVE.pop(token, None)
    if session.returncode not in (0, 1):
        tail = log_path.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")
        return f"the grading session ended abnormally ({session.returncode}):\n{tail}"
    return ""


def cancel_all() -> None:
    """Stop every session this process is running (a batch being interrupted)."""
    for token, session in list(_ACTIVE.items()):
        _stop(session)
        kill_session(token)


def _stop(session: subprocess.Popen) -> None:
    if session.poll() is None:
        try:
            os.killpg(session.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        session.wait()
