"""The local runner: the grading session in a separate process on this machine.

What a student's ``tox`` uses. The session runs with ``python -I`` from an empty working
folder, in its own process group, under a wall-clock deadline. Every student process it
started carries the session's marker, so whatever the session leaves behind (because it
crashed or hit the deadline) is killed here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ..program import SESSION_MARKER, kill_session
from . import GradeRequest, complete, read_results

LOG_TAIL = 2000
_ACTIVE: dict[str, subprocess.Popen] = {}  # sessions running now, by token (for cancel_all)


def grade(request: GradeRequest) -> dict:
    token = uuid.uuid4().hex
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grader-") as work:
        work_path = Path(work)
        results = work_path / "results.json"
        command = [sys.executable, "-I", "-m", "grader.session",
                   str(request.exercise.folder), str(request.submission.resolve()),
                   str(results), request.lang, str(work_path / "tmp")]
        env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
        env[SESSION_MARKER] = token
        log_path = work_path / "session.log"
        reason = ""
        with open(log_path, "wb") as log:
            session = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
            _ACTIVE[token] = session
            try:
                session.wait(timeout=request.timeout)
            except subprocess.TimeoutExpired:
                reason = (f"grading did not finish within {request.timeout:.0f} s and was "
                          f"stopped; this check was not reached")
            finally:
                _stop(session)
                kill_session(token)
                _ACTIVE.pop(token, None)
        if not reason and session.returncode not in (0, 1):
            tail = log_path.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")
            reason = f"the grading session ended abnormally ({session.returncode}):\n{tail}"
        return complete(read_results(results), request.exercise, reason or
                        "this check was not reported by the grading session",
                        time.monotonic() - started)


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
