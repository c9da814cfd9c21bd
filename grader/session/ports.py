"""Ports for servers under test: free, outside the ephemeral range, never given twice.

Why outside the ephemeral range: checks of one session run side by side, and the kernel
gives every outgoing connection a local port from ``ip_local_port_range``. A port chosen
for a student's server from that range could be taken, in the moment before the server
binds it, by another check's connection; the student's correct server would then fail to
bind. Below the range the kernel never hands a port out by itself.

Why reservations: two checks choosing at the same moment must not pick the same port. A
reservation is a file created with ``O_EXCL`` in the session's own folder, which is atomic
across the forked processes the checks run in. ``reserve_in`` is called once, by the
session, before the checks start.

Rule: this module never connects; it binds only a probe socket, closed at once.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .kernel import TcpState, ephemeral_port_range, rows_on_port
from .waiting import wait_until

LOWEST = 10000
DEFAULT_PORT = 7788  # the port every server of the course listens on without an argument
DEFAULT_PORT_LOCK = Path(tempfile.gettempdir()) / f"tcp-grader-port-{DEFAULT_PORT}.lock"
_reservations: Path | None = None


def reserve_in(folder: Path) -> None:
    """From now on (in this process and the ones it forks), reserve ports in ``folder``."""
    global _reservations
    folder.mkdir(parents=True, exist_ok=True)
    _reservations = folder


def _reserve(port: int) -> bool:
    if _reservations is None:
        return True
    try:
        os.close(os.open(_reservations / str(port), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _bindable(port: int) -> bool:
    """Whether no socket of this network holds ``port``, on any address of either family.
    Without SO_REUSEADDR the kernel refuses to bind a port that any socket holds, in any
    state, TIME_WAIT included: two probes say what a read of the whole socket table would,
    for a fraction of its cost (a check's fixtures ask for ports many times)."""
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    try:
        probe6 = socket.socket(socket.AF_INET6)
    except OSError:
        return True  # no IPv6 here: no IPv6 socket can hold it
    with probe6:
        probe6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            probe6.bind(("::", port))
        except OSError as error:
            return error.errno != errno.EADDRINUSE  # refused otherwise: IPv6 is off
    return True


def unused_port() -> int:
    """A port no socket holds (not even in TIME_WAIT), IPv4 or IPv6, below the ephemeral
    range and not given to another check of the session."""
    low, _high = ephemeral_port_range()
    # A generator seeded from the system's randomness at each call: forked checks share the
    # module's generator state, and would all try the same ports first (SystemRandom would
    # do too, at a system call per number).
    chooser = random.Random(os.urandom(16))
    candidates = chooser.sample(range(LOWEST, max(LOWEST + 1000, low)), 200)
    for port in candidates:
        if _bindable(port) and _reserve(port):
            return port
    raise RuntimeError("no free port found below the ephemeral range")


@contextmanager
def holding_default_port(timeout: float = 60.0) -> Iterator[bool]:
    """Hold ``DEFAULT_PORT`` on this machine's loopback for one check: a lock every grading
    session of the machine takes (two exercises graded at once both have a default-port
    check), then a wait until nothing listens there. Yields whether the port is free.

    Used only where the grader cannot make a network namespace of its own (a container
    without the capability, a laptop whose kernel forbids unprivileged namespaces); there
    the port is the machine's, and only this lock keeps two checks apart."""
    descriptor = os.open(DEFAULT_PORT_LOCK, os.O_RDONLY | os.O_CREAT, 0o444)
    try:
        def locked() -> bool:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not wait_until(locked, timeout):
            yield False
            return
        yield wait_until(lambda: not any(row.state == TcpState.LISTEN
                                         for row in rows_on_port(DEFAULT_PORT)), 10.0)
    finally:
        os.close(descriptor)  # and with it the lock
