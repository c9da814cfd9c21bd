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
marker and runs while no other check runs. Each child reserves its ports (``ports``)
outside the range the kernel hands to connections.
Rule 2: the session has forked nothing else and started no thread when it forks: only
the children run checks.
Rule 3: every child is waited for. One that ends without sending its result (killed from
outside) leaves its check unreported, which the host records as not graded.
"""

from __future__ import annotations

import os
import pickle
import selectors
from dataclasses import dataclass, field
from typing import Callable

import pytest

DEFAULT_PARALLEL = 16


@dataclass
class Child:
    item: pytest.Item
    pid: int
    read_end: int
    received: bytearray = field(default_factory=bytearray)


def run_side_by_side(items: list[pytest.Item], is_alone: Callable[[pytest.Item], bool],
                     run_in_child: Callable[[pytest.Item], object],
                     receive: Callable[[pytest.Item, object], None], parallel: int) -> None:
    """Run every item in a child of its own: ``is_alone`` items one at a time with nothing
    else running, then the others at most ``parallel`` at once. ``run_in_child(item)``
    runs in the child and returns what ``receive(item, value)`` gets in the session."""
    for item in [item for item in items if is_alone(item)]:
        _run_batch([item], run_in_child, receive, 1)
    _run_batch([item for item in items if not is_alone(item)], run_in_child, receive,
               max(1, parallel))


def _run_batch(items: list[pytest.Item], run_in_child, receive, parallel: int) -> None:
    waiting = list(reversed(items))
    running: dict[int, Child] = {}
    with selectors.DefaultSelector() as selector:
        while waiting or running:
            while waiting and len(running) < parallel:
                child = _fork(waiting.pop(), run_in_child)
                running[child.read_end] = child
                selector.register(child.read_end, selectors.EVENT_READ)
            for key, _events in selector.select():
                child = running[key.fd]
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    child.received += chunk
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                os.waitpid(child.pid, 0)
                del running[key.fd]
                if child.received:
                    receive(child.item, pickle.loads(bytes(child.received)))


def _fork(item: pytest.Item, run_in_child) -> Child:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one check, its result down the pipe, and out
        status = 1
        try:
            os.close(read_end)
            data = pickle.dumps(run_in_child(item))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)  # never the session's own exit handlers, never its finally
    os.close(write_end)
    return Child(item, pid, read_end)
