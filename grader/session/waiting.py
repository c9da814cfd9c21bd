"""Waiting for conditions with deadlines (design principle 2: never a guessed sleep).

A correct program is graded as fast as it runs: every wait polls a condition and returns
the moment it holds; a broken program fails at the deadline, so the whole run stays bounded.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.01
# A wait polls every POLL_INTERVAL at first, then less and less often, up to this: what a
# correct program does is seen at once, and a broken one that makes a check wait for its
# deadline does not have the kernel's socket table read (several ms of CPU) 100 times a
# second. A condition that comes true late is seen at most this late.
SLOWEST_POLL = 0.05
POLL_GROWTH = 1.25


class Deadline:
    """A point in monotonic time, with the time left until it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at


def wait_until(condition: Callable[[], T], timeout: float,
               interval: float = POLL_INTERVAL) -> T | None:
    """Call ``condition`` until it returns something truthy; that value, or None at the deadline."""
    deadline = Deadline(timeout)
    slowest = max(interval, SLOWEST_POLL)
    while True:
        value = condition()
        if value:
            return value
        if deadline.expired():
            return None
        time.sleep(min(interval, deadline.left()))
        interval = min(slowest, interval * POLL_GROWTH)


def stays_true(condition: Callable[[], bool], duration: float,
               interval: float = POLL_INTERVAL) -> bool:
    """True if ``condition`` holds at every poll for ``duration`` seconds (for "never" checks)."""
    deadline = Deadline(duration)
    while not deadline.expired():
        if not condition():
            return False
        time.sleep(min(interval, deadline.left()))
    return condition()
