"""Driving one student program, as a person at a terminal would.

Rule 1: student code is untrusted. It runs in its own process, in a scratch copy of the
submission, with a clean environment, resource limits, and never on the grader's import
path. Its output is read with a byte cap. How its processes are contained (found and killed
however they detach, run under a uid of their own when the grader is root) is
``containment``'s job; this module starts programs through it and kills through it.
Rule 2: this module observes (output, exit status, questions asked); it never judges.

Why a pseudo-terminal (pexpect): a program that prints with plain ``print()`` is
line-buffered on a terminal and block-buffered on a pipe. Graded through a pipe, a correct
program that never calls ``flush`` would look silent. On a terminal it behaves as it does
for the student.

Why answers wait for a read: a person types an answer when the program waits at
``input()``, whatever the prompt says, in any language or none. The kernel tells us when
the program is blocked reading its terminal (``/proc/PID/task/*/syscall``); only then is
the next answer typed, and only once the previous one has been read (``rchar`` grew).
"""

from __future__ import annotations

import errno
import os
import re
import resource
import select
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pexpect

from . import containment, procinfo
from .containment import SESSION_MARKER, STUDENT_PROCESSES, ChildPlan, kill_all
from .verdict import fail
from .waiting import wait_until

OUTPUT_CAP = 256 * 1024
TRACEBACK = "Traceback (most recent call last)"
DRAIN_DEADLINE = 1.0  # the reader's last reads after the program ended (0.5 s at most)


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to the student's process (the docker runner adds its own)."""

    cpu_seconds: int = 60
    address_space: int = 4 * 1024 ** 3
    file_size: int = 64 * 1024 ** 2
    open_files: int = 1024


# In the container the grader and the student's processes share one CPU: a student who runs
# many busy processes (a fork bomb: up to its process limit, each spinning on a fork that
# fails) must not starve the grader of the time to observe, judge and clean up. The student's
# processes run at SCHED_IDLE (each weighs 3 against the grader's 1024; at nice 19, the
# fallback, 15, and 256 spinning processes left the grader a fifth of the CPU, throttled
# further by the container's CPU quota). When the grader waits, as it mostly does, the
# student's program has the CPU; the container is a cgroup of its own, so its programs
# yield to their grader, not to the host's processes. Without CAP_SYS_NICE a process can
# neither leave SCHED_IDLE nor raise its priority again. Only in the container (the docker
# runner says so with GRADER_NETNS=container), whose CPU the grader and the student share
# alone: on a machine of its own (the local runner, also as root, Gradescope's container)
# the program would yield to every busy process there, and a loaded machine would change
# its grade.
STUDENT_NICE = 19


def _apply_limits(limits: Limits, plan: ChildPlan) -> None:
    """Runs in the child between fork and exec."""
    # A grader started in the background (``cmd &``) ignores SIGINT, and ignored signals are
    # inherited: the student's program must get the default dispositions a terminal gives.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGPIPE,
                   signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for name, value in ((resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_AS, limits.address_space),
                        (resource.RLIMIT_FSIZE, limits.file_size),
                        (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):
            pass
    try:  # if memory runs out, the student's process goes first, never the grader
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as oom:
            oom.write("1000")
    except OSError:
        pass
    if plan.student is not None and os.environ.get("GRADER_NETNS") == "container":
        try:  # at the lowest priority, which it cannot raise again (no CAP_SYS_NICE)
            os.setpriority(os.PRIO_PROCESS, 0, STUDENT_NICE)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
    containment.prepare_child(plan)  # its cgroup, its network, then its own uid


def kill_student_processes() -> None:
    """Kill every process of the submission that this check's process started, however it
    detached (new session, double fork, empty environment, new argv, re-exec): the end of a
    check (``containment.sweep``). Checks run side by side, each in a process of its own, so
    this never touches another check's programs."""
    containment.sweep()


def kill_session(token: str) -> None:
    """Kill every process started by one grading session that still carries its marker (the
    local runner's last safety net, after the session's keeper)."""
    marker = f"{SESSION_MARKER}={token}".encode()
    _kill_marked(lambda environment: marker in environment)


def kill_sessions_of(owner: str) -> None:
    """Kill every session, and every student process, of one grader process: the local
    runner's session tokens start with ``<owner>-`` (the reaper's job, once it is gone)."""
    prefix = f"{SESSION_MARKER}={owner}-".encode()
    _kill_marked(lambda environment: any(entry.startswith(prefix) for entry in environment))


def _kill_marked(matches: Callable[[list[bytes]], bool]) -> None:
    kill_all(lambda: {pid for pid in procinfo.all_pids()
                      if pid != os.getpid() and matches(procinfo.environment(pid))
                      and procinfo.is_alive(pid)})


class StudentProgram:
    """A running student program with its terminal, its answers and its output."""

    def __init__(self, script: Path, args: list[str] | None = None,
                 answers: list[str] | None = None, workdir: Path | None = None,
                 limits: Limits = Limits(), output_cap: int = OUTPUT_CAP,
                 launcher: list[str] | None = None) -> None:
        self.script = Path(script)
        self.launcher = list(launcher or [])  # a command prefix, e.g. nsenter into a namespace
        self.args = [str(arg) for arg in (args or [])]
        self.answers = list(answers or [])
        self.workdir = Path(workdir or self.script.parent)
        self.limits = limits
        self.output_cap = output_cap
        self.marker = f"GRADER_RUN={uuid.uuid4().hex}"
        self.raw_output = bytearray()
        self.dropped_output = 0
        self.answers_given: list[str] = []
        self.unanswered_question = False  # it waited for input after the last answer
        self.exit_status: int | None = None
        self.exit_signal: int | None = None
        self.started_at = 0.0
        self.ended_at: float | None = None
        self._child: pexpect.spawn | None = None
        self._plan: ChildPlan | None = None
        self._confined = False  # in its check's cgroup, which it cannot leave (``register``)
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reaping = threading.Lock()

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> "StudentProgram":
        plan = containment.enter(self.launcher)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "dumb",
            "HOME": str(self.workdir), "PYTHONDONTWRITEBYTECODE": "1",
            self.marker.split("=")[0]: self.marker.split("=")[1],
        }
        if os.environ.get(SESSION_MARKER):
            env[SESSION_MARKER] = os.environ[SESSION_MARKER]
        command = [*plan.launcher, plan.interpreter, self.script.name, *self.args]
        self._plan = plan
        try:
            self._child = pexpect.spawn(
                command[0], command[1:], cwd=str(self.workdir), env=env,
                echo=True, dimensions=(24, 200),
                preexec_fn=lambda: _apply_limits(self.limits, plan))
        except OSError as error:
            if error.errno != errno.EAGAIN or plan.student is None:
                raise
            # exec refuses a uid over its RLIMIT_NPROC: the submission's own processes,
            # started in checks beside this one, fill it (a fork bomb); never the grader's.
            fail(f"{self.script.name} could not be started: the processes your submission "
                 f"had already started in other checks reached the limit of "
                 f"{STUDENT_PROCESSES} processes and threads (does it fork without end?)",
                 f"{self.script.name} 无法启动：你的提交在其他检查项中已经启动的进程达到了"
                 f" {STUDENT_PROCESSES} 个进程和线程的上限（它是否在无止境地 fork？）")
        self._confined = containment.register(self._child.pid, plan)
        # We reap the child ourselves (``_poll_exit``); pexpect must not sleep or wait on close.
        self._child.ptyproc.delayafterclose = 0
        self._child.ptyproc.delayafterterminate = 0
        self.started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read_terminal, daemon=True,
                                        name=f"terminal-{self.pid}")
        self._reader.start()
        return self

    @property
    def pid(self) -> int:
        assert self._child is not None, "program not started"
        return self._child.pid

    def running(self) -> bool:
        self._poll_exit()
        return self.exit_status is None and self.exit_signal is None

    def wait_exit(self, timeout: float) -> bool:
        """Wait for the program to end by itself; True if it did, and then what it printed
        before it ended has been read too (the reader takes a terminal's last bytes a
        moment after the program is gone: ``_keep_last_output``)."""
        ended = bool(wait_until(lambda: not self.running(), timeout))
        if ended:
            wait_until(self._drained, DRAIN_DEADLINE)
        return ended

    def send_signal(self, signum: int) -> None:
        if self.running():
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def stop(self, signum: int = signal.SIGINT, timeout: float = 2.0) -> bool:
        """Ask the program to stop with a signal; True if it ended within ``timeout``."""
        self.send_signal(signum)
        return self.wait_exit(timeout)

    def members(self) -> set[int]:
        """Every live process of this run (the program and whatever it started)."""
        if self._child is None:
            return set()
        return procinfo.run_members(self.pid, self.marker.encode(), self._cgroup_members())

    def _cgroup_members(self) -> set[int] | None:
        """The processes of the check's cgroup, where the program cannot leave it (it runs
        as the student's uid, and the cgroup is root's); None: look at every process."""
        if not self._confined or self._plan is None or self._plan.cgroup is None:
            return None
        return containment.cgroup_pids(self._plan.cgroup)

    def kill_tree(self) -> None:
        """Kill every process of the run, reap the program, let the reader take the last of
        its output, then close its terminal (closed under a reader still selecting on it,
        the descriptor's number could name another file by the time it reads)."""
        kill_all(self.members)
        if self._child is None:
            return
        self._poll_exit()
        if self._reader is not None:
            self._reader.join(timeout=DRAIN_DEADLINE)
        try:
            self._child.close(force=True)
        except Exception:  # pexpect raises if the child cannot be reaped; it is dead
            pass
        self._poll_exit()
        if self.exit_status is not None or self.exit_signal is not None:
            containment.released(self._child.pid)

    # -- observations --------------------------------------------------------------

    @property
    def output(self) -> str:
        """What the program printed so far, as the student's terminal shows it."""
        with self._lock:
            raw = bytes(self.raw_output)
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
        if self.dropped_output:
            text += f"\n[... {self.dropped_output} more bytes of output not kept]"
        return text

    @property
    def printed(self) -> str:
        """The output without the echo of the answers typed at its prompts."""
        text = self.output
        for answer in self.answers_given:
            text = text.replace(answer + "\n", "", 1)
        return text

    def has_traceback(self) -> bool:
        return TRACEBACK in self.output

    def wait_output(self, pattern: str, timeout: float, flags: int = re.IGNORECASE
                    ) -> re.Match | None:
        """Wait until the printed output matches ``pattern`` (or the program ends)."""
        regex = re.compile(pattern, flags)

        def seen() -> re.Match | None:
            return regex.search(self.printed)

        match = wait_until(lambda: seen() or self.finished(), timeout)
        return match if isinstance(match, re.Match) else seen()

    def wait_question(self, timeout: float) -> bool:
        """Wait until the program has used all its answers and waits for one more."""
        return bool(wait_until(lambda: self.unanswered_question or not self.running(), timeout)
                    ) and self.unanswered_question

    def exit_description(self) -> str:
        if self.exit_signal is not None:
            try:
                name = signal.Signals(self.exit_signal).name
            except ValueError:
                name = str(self.exit_signal)
            return f"killed by signal {name}"
        if self.exit_status is not None:
            return f"exit status {self.exit_status}"
        return "still running"

    def runtime(self) -> float:
        return (self.ended_at or time.monotonic()) - self.started_at

    # -- internals -----------------------------------------------------------------

    def finished(self) -> bool:
        """Ended, and everything it printed has been read from its terminal."""
        return not self.running() and self._drained()

    def _drained(self) -> bool:
        return self._reader is None or not self._reader.is_alive()

    def _poll_exit(self) -> None:
        """Reap the program if it has ended. The one place that calls ``waitpid`` for it, under
        a lock: the terminal's reader asks too, and pexpect's own ``isalive()`` must never
        run (it would ``waitpid`` a second time and raise when this one has reaped)."""
        child = self._child
        if child is None:
            return
        with self._reaping:
            if self.exit_status is not None or self.exit_signal is not None:
                return
            try:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:  # pexpect's close() reaped it (``kill_tree``)
                if child.exitstatus is not None or child.signalstatus is not None:
                    self.exit_status, self.exit_signal = child.exitstatus, child.signalstatus
                    self.ended_at = time.monotonic()
                return
            if pid == 0 or not (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
                return
            child.ptyproc.terminated = True  # pexpect's close() must not wait for it again
            if os.WIFEXITED(status):
                self.exit_status = os.WEXITSTATUS(status)
            else:
                self.exit_signal = os.WTERMSIG(status)
            self.ended_at = time.monotonic()

    def _read_terminal(self) -> None:
        """Drain the terminal (so the program never blocks on a full pty), keep output up to
        the cap, and type the next answer whenever the program waits for one.

        Why not pexpect's ``read_nonblocking``: it calls ``isalive()``, which reaps the child
        with ``waitpid``; when ``_poll_exit`` in the check's thread had just reaped it, that
        raised in this thread, the reader died, and the last line a correct program printed
        before it exited was never read."""
        child = self._child
        assert child is not None
        if self._plan is not None and self._plan.observe_as_student:
            containment.observe_as_student(self._plan.student)  # this thread only
        read_before_answer: int | None = None
        while True:
            data = self._read_some(child.child_fd, 0.02)
            if data is None:
                return  # the terminal is closed: every process that held it has ended
            if data:
                self._keep(data)
            elif not self.running():
                self._keep_last_output(child.child_fd)
                return
            if not procinfo.waiting_for_stdin(child.pid):
                continue
            if read_before_answer is not None and \
                    procinfo.chars_read(child.pid) <= read_before_answer:
                continue  # the last answer is still in the terminal, not read yet
            if len(self.answers_given) < len(self.answers):
                answer = self.answers[len(self.answers_given)]
                read_before_answer = procinfo.chars_read(child.pid)
                self.answers_given.append(answer)
                try:
                    child.sendline(answer.encode("utf-8"))
                except OSError:
                    return  # the terminal closed under us: the program has ended
            else:
                self.unanswered_question = True

    @staticmethod
    def _read_some(fd: int, timeout: float) -> bytes | None:
        """What the terminal has within ``timeout`` (b"" if nothing), None once it is closed
        and empty (EIO on a pty's master side, or we closed it)."""
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return b""
            return os.read(fd, 65536) or None
        except (OSError, ValueError):
            return None

    def _keep_last_output(self, fd: int) -> None:
        """What the program wrote just before it ended. The kernel hands a terminal's last
        bytes to its master side a moment after they were written, so an empty read at the
        instant the program ended is not the end: read until the terminal says it is empty
        and closed (EIO), or, when a process the program left behind still holds it, for a
        short while."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            data = self._read_some(fd, 0.05)
            if data is None:
                return
            self._keep(data)

    def _keep(self, data: bytes) -> None:
        with self._lock:
            room = self.output_cap - len(self.raw_output)
            self.raw_output += data[:max(room, 0)]
            self.dropped_output += max(len(data) - max(room, 0), 0)
