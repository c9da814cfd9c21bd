"""What ``/proc`` says about a process: its tree, descriptors, threads, CPU time, and
whether it is waiting for keyboard input.

Rule: read-only. Killing lives in ``program``; judging lives in the checks.

Processes of one run are found three ways, because a submission may try to escape any one
of them: descendants by parent pid, members of its session, and a marker variable in the
environment that every child inherits (a daemon that double-forks and calls ``setsid``
still carries it).
"""

from __future__ import annotations

import os
import platform
from typing import Iterable

from .containment import observing

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The ``read`` system call's number, by machine: a process blocked in read(0, ...) on its
# terminal is a program waiting at ``input()``.
READ_SYSCALLS = {"x86_64": {0, 19}, "aarch64": {63, 65}, "arm64": {63, 65}, "i686": {3, 145}}
READ_SYSCALL = READ_SYSCALLS.get(platform.machine(), {0})


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def parent_and_session(pid: int) -> tuple[int, int] | None:
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return int(fields[1]), int(fields[3])  # ppid, session id


def state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def is_alive(pid: int) -> bool:
    """Running or sleeping, not a zombie waiting to be reaped."""
    return state(pid) not in (None, "Z", "X")


def uids(pid: int) -> tuple[int, ...]:
    """Real, effective, saved and file-system uid of the process (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Uid:"):
                    return tuple(int(field) for field in line.split()[1:])
    except (OSError, ValueError):
        pass
    return ()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process (all its threads)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_states(pid: int) -> list[str]:
    """The state letter (R, S, D, ...) of every thread of a process."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    states = []
    for task in tasks:
        fields = _stat_fields(f"{pid}/task/{task}")
        if fields:
            states.append(fields[0])
    return states


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def fd_count(pid: int) -> int:
    """Open descriptors; read as the student's uid where root may not look into another
    uid's (``containment.observing``)."""
    try:
        with observing():
            return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def chars_read(pid: int) -> int:
    """``rchar`` of ``/proc/PID/io``: bytes the process has read by any read-like call."""
    try:
        with open(f"/proc/{pid}/io", encoding="ascii") as io:
            for line in io:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def waiting_for_stdin(pid: int) -> bool:
    """True if some thread of the process is blocked reading its standard input (fd 0)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/syscall", encoding="ascii") as syscall:
                fields = syscall.read().split()
        except OSError:
            continue
        if len(fields) >= 2 and fields[0].isdigit() and int(fields[0]) in READ_SYSCALL \
                and int(fields[1], 16) == 0:
            return True
    return False


def environment(pid: int) -> list[bytes]:
    """The ``NAME=value`` entries a process started with ([] if it is gone or not ours)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return environ.read().split(b"\0")
    except OSError:
        return []


def has_marker(pid: int, marker: bytes) -> bool:
    return marker in environment(pid)


def run_members(root_pid: int, marker: bytes,
                candidates: Iterable[int] | None = None) -> set[int]:
    """Every live process of one run: descendants of ``root_pid``, its session, its marker.
    ``candidates``: the only processes that can be of the run (its cgroup, which the run
    cannot leave), so that not every process of the machine is read; None: all of them."""
    info = {pid: parent_and_session(pid)
            for pid in (all_pids() if candidates is None else candidates)}
    info = {pid: value for pid, value in info.items() if value is not None}
    members = {root_pid} if root_pid in info else set()
    members |= {pid for pid, (_ppid, session) in info.items() if session == root_pid}
    members |= {pid for pid in info if has_marker(pid, marker)}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _session) in info.items() if ppid in members}
        grew = not children <= members
        members |= children
    members.discard(os.getpid())
    return {pid for pid in members if is_alive(pid)}
