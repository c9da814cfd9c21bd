"""Running a session's checks side by side, each in a process forked from the session.

Why: the checks of one exercise are independent (each has its own port, its own scratch
copy, its own peers), but a program that hangs costs every check its deadline, and one
after another those deadlines add up to a minute. Side by side they overlap.

Why fork: the session has already imported pytest, the plugin and the checks; a forked
child starts in about a millisecond with all of that, runs exactly one check's setup,
call and teardown, sends its result back over a pipe and exits. The children stay in the
session's process group and carry its environment, so the clean-up finds them.

Rule 1: the schedule never changes a verdict. A check that measures CPU time, a pause or
a deadline the program must meet on a quiet machine says so with ``alone=True`` in its
marker. It starts beside the others (starting a program and waiting for it to listen is
not what it measures, and that wait is what a hung program makes long), and it asks for
the machine with ``quiet_machine()`` where its measurement begins: from then on it runs
while no other check runs. Each child reserves its ports (``ports``) outside the range
the kernel hands to connections.
Rule 2: the session has forked nothing else and started no thread when it forks: only
the children run checks.
Rule 3: every child is waited for. One that ends without sending its result (killed from
outside) leaves its check unreported, which the host records as not graded.

The quiet machine, as the session grants it. Each running child is in one state:

    =========  ==========================================  =================================
    state      what the child is doing                     what moves it on
    =========  ==========================================  =================================
    RUNNING    its check, beside the others                asks (``quiet_machine``): ASKING
    ASKING     blocked, its programs stopped (SIGSTOP)     granted: QUIET
    QUIET      its check, with every other child ASKING    ends (the child exits)
    =========  ==========================================  =================================

No child is started while one is ASKING or QUIET, so the RUNNING ones drain; the first
child that asked is granted once none is RUNNING and none is QUIET. The alone checks
start first and the others wait up to ``ALONE_HEAD_START`` for them to ask: a working
program's quiet parts then come first and stall nothing, and a program that never gets
that far (the usual broken one) costs the others at most that second. The children still
ASKING meanwhile have their programs stopped, so a program that spins in one check cannot
take the CPU from the same student's program measured in another.
"""

from __future__ import annotations

import enum
import gc
import os
import pickle
import selectors
import signal
import socket
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pytest

from . import procinfo
from .waiting import Deadline, wait_until

# The most checks an exercise of the kit has is 18: all of them start in one wave, so a
# program that never answers costs its exercise one deadline, not two.
DEFAULT_PARALLEL = 20
STOP_DEADLINE = 1.0  # for an asking check's programs to take their SIGSTOP
STOPPED_OR_GONE = (None, "T", "t", "Z", "X")  # /proc/PID/stat states
# How long the other checks wait for the alone ones to ask for the quiet machine before
# they start anyway (a program that never listens never asks). Speed only: exclusivity
# does not depend on it.
ALONE_HEAD_START = 1.0
ASK = b"?"
GRANT = b"!"


class State(enum.Enum):
    RUNNING = "running"
    ASKING = "asking"
    QUIET = "quiet"


@dataclass
class Child:
    item: pytest.Item
    pid: int
    read_end: int
    control: socket.socket
    alone: bool
    state: State = State.RUNNING
    received: bytearray = field(default_factory=bytearray)


# In a child: its end of the control pair, and whether the machine is already its own.
_control: socket.socket | None = None
_quiet = False


def run_side_by_side(items: list[pytest.Item], is_alone: Callable[[pytest.Item], bool],
                     run_in_child: Callable[[pytest.Item], object],
                     receive: Callable[[pytest.Item, object], None], parallel: int) -> None:
    """Run every item in a child of its own, at most ``parallel`` at once, the ``is_alone``
    ones first (their quiet parts then overlap nothing, their starts overlap the others).
    ``run_in_child(item)`` runs in the child and returns what ``receive(item, value)`` gets
    in the session. With ``parallel`` 1, one after another: each child is then alone."""
    # The session's objects (pytest, the plugin, the checks) move out of the collector's
    # reach: a child's collections would otherwise walk them all, and touching their pages
    # copies them from the session's memory into the child's (most of a child's CPU).
    gc.freeze()
    alone = [item for item in items if is_alone(item)]
    waiting = list(reversed(alone + [item for item in items if not is_alone(item)]))
    head_start = Deadline(ALONE_HEAD_START)
    running: dict[int, Child] = {}
    with selectors.DefaultSelector() as selector:
        while waiting or running:
            while waiting and len(running) < max(1, parallel) and _may_start(running):
                if not is_alone(waiting[-1]) and _holding(running, head_start):
                    break
                item = waiting.pop()
                child = _fork(item, is_alone(item), run_in_child)
                running[child.read_end] = child
                selector.register(child.read_end, selectors.EVENT_READ, child)
                selector.register(child.control, selectors.EVENT_READ, child)
            holding = waiting and _holding(running, head_start)
            for key, _events in selector.select(head_start.left() if holding else None):
                child = key.data
                if running.get(child.read_end) is not child:
                    continue  # ended earlier in this same batch of events
                if key.fileobj is child.control:
                    _hear(child, selector)
                elif _read_result(child, selector):
                    del running[child.read_end]
                    if child.received:
                        receive(child.item, pickle.loads(bytes(child.received)))
            _grant_if_quiet(running.values())


def _may_start(running: dict[int, Child]) -> bool:
    return all(child.state is State.RUNNING for child in running.values())


def _holding(running: dict[int, Child], head_start: "Deadline") -> bool:
    """Whether the other checks still give the alone ones, started first, their head start:
    some alone check has not asked yet, and the head start has not run out."""
    return not head_start.expired() and any(
        child.alone and child.state is State.RUNNING for child in running.values())


def _hear(child: Child, selector: selectors.BaseSelector) -> None:
    try:
        said = child.control.recv(1)
    except OSError:
        said = b""
    if said == ASK:
        child.state = State.ASKING
    else:  # the child closed its end: it is ending; its result pipe says when
        selector.unregister(child.control)


def _read_result(child: Child, selector: selectors.BaseSelector) -> bool:
    """Read what the child sent; True once it has ended (and has been waited for)."""
    chunk = os.read(child.read_end, 1 << 16)
    if chunk:
        child.received += chunk
        return False
    selector.unregister(child.read_end)
    if child.control.fileno() in selector.get_map():
        selector.unregister(child.control)
    os.close(child.read_end)
    child.control.close()
    os.waitpid(child.pid, 0)
    return True


def _grant_if_quiet(children: Iterable[Child]) -> None:
    children = list(children)
    if any(child.state in (State.RUNNING, State.QUIET) for child in children):
        return
    asking = [child for child in children if child.state is State.ASKING]
    if asking:
        first = asking[0]
        first.state = State.QUIET
        try:
            first.control.sendall(GRANT)
        except OSError:
            pass  # it died meanwhile: its result pipe ends it


def _fork(item: pytest.Item, alone: bool, run_in_child) -> Child:
    global _control
    read_end, write_end = os.pipe()
    session_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the child: one check, its result down the pipe, and out
        status = 1
        try:
            os.close(read_end)
            session_end.close()
            _control = child_end
            data = pickle.dumps(run_in_child(item))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)  # never the session's own exit handlers, never its finally
    os.close(write_end)
    child_end.close()
    return Child(item, pid, read_end, session_end, alone)


def quiet_machine(programs: Callable[[], set[int]]) -> None:
    """From here until the check ends, no other check of the session runs.

    Blocks until the session grants it. Meanwhile the check's own programs
    (``programs()``, their pids) are stopped, and the time spent waiting does not count
    against the check's hard limit (``ITIMER_REAL``). Outside a side-by-side session, or
    when the machine is already this check's, it returns at once."""
    global _quiet
    if _control is None or _quiet:
        return
    stopped = _signal_all(programs(), signal.SIGSTOP)
    # A stop takes effect when the process next runs: on a busy machine a spinning program
    # waiting for a CPU is still "R". Ask only once they have stopped, so that the check
    # granted after this one never shares the CPU with them.
    wait_until(lambda: all(procinfo.state(pid) in STOPPED_OR_GONE for pid in stopped),
               STOP_DEADLINE)
    left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
    try:
        _control.sendall(ASK)
        while _control.recv(1) not in (GRANT, b""):
            pass
        _quiet = True
    finally:
        if left:
            signal.setitimer(signal.ITIMER_REAL, left)
        _signal_all(stopped, signal.SIGCONT)


def _signal_all(pids: Iterable[int], signum: int) -> set[int]:
    reached = set()
    for pid in pids:
        try:
            os.kill(pid, signum)
            reached.add(pid)
        except OSError:
            pass  # ended meanwhile
    return reached
