"""The local runner: the grading session in a separate process on this machine.

What a student's ``tox`` uses. The session runs with ``python -I`` from an empty working
folder, under a wall-clock deadline, below a *keeper* (``grader.session.containment``): the
session's parent and subreaper, which, when the session ends or at the deadline, kills
every process the submission left (however it detached), and, when the grader is root,
leases the uid the student's programs run under. Its result is read only once the keeper
has exited, that is once nothing of the submission runs any more. If this process itself
is killed, its reaper (``reaper``) kills the sessions and their keepers clear up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ... import results
from ...language import Message
from ...session import containment
from ...session.program import SESSION_MARKER, kill_session
from . import GradeRequest, reaper, session_arguments

LOG_TAIL = 2000
# pytest's statuses for "every check ran" (some may have failed): anything else means the
# session itself did not do its job.
GRADED_STATUSES = (0, 1)


def timed_out(seconds: float, where: str = "") -> Message:
    return Message(f"grading did not finish within {seconds:.0f} s and {where or 'was'} "
                   f"stopped; this check was not reached",
                   f"评分没有在 {seconds:.0f} 秒内完成，已被中止；这一项没有被执行到")


class LocalRunner:
    name = "local"

    def __init__(self) -> None:
        self.active: dict[str, subprocess.Popen] = {}  # sessions running now, by token

    def check_available(self) -> None:
        pass  # a Python that can run this grader can run its sessions

    def remove_leftovers(self, labels: dict[str, str]) -> None:
        pass  # a killed grader's sessions are its reaper's business

    def grade(self, request: GradeRequest) -> dict:
        token = reaper.session_token()  # a SIGKILLed grader's reaper finds the session by it
        started = time.monotonic()
        work = reaper.work_folder("session-")
        try:
            document, reason, runner_error = self._run_session(request, token, work)
            return results.complete(document, request.exercise.checks(),
                                    reason or results.NOT_REPORTED,
                                    time.monotonic() - started, request.lang, runner_error)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run_session(self, request: GradeRequest, token: str, work: Path
                     ) -> tuple[dict | None, Message | str, bool]:
        """Run the session to its end or its deadline: the results it wrote (None if none),
        why it did not end normally (or ''), and whether that is the grader's failure rather
        than the submission's."""
        command = [sys.executable, "-I", "-m", "grader.session", *session_arguments(
            request, str(request.exercise.folder.resolve()), str(request.submission.resolve()),
            str(work / "results.json"), str(work / "tmp"))]
        env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
        # The keeper gives the session its marker; the keeper itself carries none, so that a
        # reaper killing sessions by marker leaves their keepers to clear up after them.
        env.pop(SESSION_MARKER, None)
        log_path = work / "session.log"
        with open(log_path, "wb") as log:
            keeper = subprocess.Popen(containment.keeper_command(token, command), cwd=work,
                                      env=env, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
            containment.spare(keeper.pid)
            self.active[token] = keeper
            try:
                keeper.wait(timeout=request.timeout)
                in_time = True
            except subprocess.TimeoutExpired:
                in_time = False
            finally:
                _stop(keeper, token)
                self.active.pop(token, None)
        document = results.read(work / "results.json")  # once the session is stopped
        if not in_time:
            return document, timed_out(request.timeout), False
        if keeper.returncode not in GRADED_STATUSES:
            return (document, f"the grading session ended abnormally ({keeper.returncode}):\n"
                    f"{_tail(log_path)}", True)
        if document is None:
            # The submission cannot write the results, nor stop the session from writing
            # them without killing it: a session that ended normally and left none failed.
            return (None, f"the grading session ended ({keeper.returncode}) without writing "
                    f"its results:\n{_tail(log_path)}", True)
        return document, "", False

    def cancel_all(self) -> None:
        for token, keeper in list(self.active.items()):
            _stop(keeper, token)


def _tail(log_path: Path) -> str:
    return log_path.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")


def _stop(keeper: subprocess.Popen, token: str) -> None:
    """The session stopped (if it still runs) and nothing of it left: its keeper kills it and
    clears up; what a keeper killed outright could not do is done here."""
    containment.stop_keeper(keeper)
    containment.clean_up_after(token)
    kill_session(token)


RUNNER = LocalRunner()
