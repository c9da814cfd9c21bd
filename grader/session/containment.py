"""Containment: no process a submission starts outlives its check, and none can forge its grade.

What lives here, and nothing else: how the processes of a submission are found and killed,
how the student's process is prepared between fork and exec (its cgroup, its network, no new
privileges, its own uid), how the grader reads another uid's ``/proc`` entries, which Python
the student's uid can run, and the *keeper*: the process the local runner puts between itself
and a session, which outlives the session and kills whatever the session leaves behind.
Must not touch: the terminal and the answers (``program``), verdicts, the results document,
sockets. ``program`` is the only module of the session that uses this one; the host's runners
use the keeper's side (``keeper_command``, ``stop_keeper``, ``clean_up_after``).

The mechanisms, each with what it covers (the README's security section says which a machine
uses; ``python -m grader.session.containment describe`` prints it):

1. Child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``, any user, Linux >= 3.4). The process
   that runs a check is made a subreaper before it starts a program, so an orphan (a daemon
   that forked twice) is re-parented to it instead of to init. A process cannot leave its
   subreaper's tree: new sessions, cleared environments, a new argv or re-exec change nothing.
   The processes of a check are the descendants of its process that run in a session other
   than that process's own: every student program starts in a session of its own (its
   terminal), and a session can only be inherited, never joined, so no student process can be
   in the grader's session, and every helper of the grader (the network agent, nft) is.
2. A cgroup (v2), where this user may create one (root on a host, or a delegated subtree).
   The keeper makes one per session and each check a child of it; the student's process joins
   its check's cgroup before it drops its uid, and ``cgroup.kill`` kills all of it at once,
   which no fork loop can outrun. A student cannot move itself out (its uid cannot write the
   grader's ``cgroup.procs``).
3. A uid of the student's own, when the session is root: each local session leases one (a
   lock file in ``/run/tcp-grader``), never a uid that has a user or group, or processes;
   the docker runner gives each container one of its own (2000 and up). The student's
   process has no capabilities and no new privileges (setuid programs do not raise them),
   so it can neither write the results, the checks, the grader's code nor its scratch
   state, nor signal the grader; its number of processes is limited (RLIMIT_NPROC). At the end of a session every process of that uid is
   killed, and the lease is released only when none is left.

Not used: a pid namespace. Its init would be the student's program or a process between the
grader and the program; as init, a program ignores every signal it has no handler for (a
server that must stop on SIGTERM would not), and the grader needs the program itself as its
child, to read its terminal waits and its exit status. An unprivileged one also needs a user
namespace, in which the student's program is root with every capability, and which Docker's
seccomp profile (Gradescope) refuses.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import grp
import os
import pwd
import resource
import shutil
import signal
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import userns

SESSION_MARKER = "GRADER_SESSION"
STUDENT_UID_VARIABLE = "GRADER_STUDENT_UID"  # the docker runner's 2000, or the keeper's lease
STUDENT_GID_VARIABLE = "GRADER_STUDENT_GID"  # default: the same number as the uid
CGROUP_VARIABLE = "GRADER_CGROUP"  # the session's cgroup, made by the keeper
SCRATCH_VARIABLE = "GRADER_STUDENT_SCRATCH"  # where the student's scratch copies go (keeper)
SCRATCH_PREFIX = "tcp-grader-scratch-"

# Where a root keeper leases uids when GRADER_STUDENT_UID does not name the first one: far
# above the uids of people and of systemd's dynamic users and containers (which end below
# 1879048192), under 2^31 (some tools read uids as signed).
DEFAULT_UID_BASE = 2_000_000_000
UID_RANGE = 256
LEASES = Path("/run/tcp-grader")
# Processes (threads count) the student's uid may have at once: a session runs up to 16
# checks side by side, each with a threaded server; a fork bomb stops here. The docker
# runner sets fewer (GRADER_STUDENT_PROCESSES), below its container's own limit.
STUDENT_PROCESSES_VARIABLE = "GRADER_STUDENT_PROCESSES"
_processes = os.environ.get(STUDENT_PROCESSES_VARIABLE, "")
STUDENT_PROCESSES = int(_processes) if _processes.isdigit() and int(_processes) > 0 else 1024
KILL_DEADLINE = 20.0  # seconds to kill a fork bomb; normally a few milliseconds
KEEPER_GRACE = 30.0  # seconds the host gives its keeper to kill a session and clear up
EXIT_SURVIVORS = 70  # the keeper's status when something of the submission could not be killed

PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000
CAP_SYS_PTRACE = 19

_libc = ctypes.CDLL(None, use_errno=True)


class ContainmentError(Exception):
    """The session cannot be contained as it must be here (no uid to lease, ...)."""


@dataclass(frozen=True)
class Student:
    uid: int
    gid: int


def student() -> Student | None:
    """The uid the student's programs run under: when this process is root and was given one
    (the docker runner, the keeper). None elsewhere: they run as the grader's own user."""
    value = os.environ.get(STUDENT_UID_VARIABLE, "")
    if not value.isdigit() or os.geteuid() != 0 or int(value) in (0, os.getuid()):
        return None
    gid = os.environ.get(STUDENT_GID_VARIABLE, "")
    return Student(int(value), int(gid) if gid.isdigit() else int(value))


# -- /proc, read for identity only ------------------------------------------------------------

@dataclass(frozen=True)
class Proc:
    state: str
    ppid: int
    sid: int
    start: int  # clock ticks after boot: with the pid, the identity of one process


def _proc(pid: int | str) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return Proc(fields[0], int(fields[1]), int(fields[3]), int(fields[19]))


def _table() -> dict[int, Proc]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (proc := _proc(name)) is not None:
            table[int(name)] = proc
    return table


def _alive(proc: Proc | None) -> bool:
    return proc is not None and proc.state not in ("Z", "X")


def _uids(pid: int) -> tuple[int, ...]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Uid:"):
                    return tuple(int(value) for value in line.split()[1:])
    except (OSError, ValueError):
        pass
    return ()


def _children(pid: int) -> list[int] | None:
    """The children of ``pid`` from the kernel's own list (``/proc/PID/task/*/children``),
    without reading every process of the machine; None where the kernel keeps no such list
    (built without CONFIG_PROC_CHILDREN): then the whole table is read."""
    if not _KERNEL_LISTS_CHILDREN:
        return None
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                found += [int(child) for child in listing.read().split()]
        except (OSError, ValueError):
            pass  # that thread ended
    return found


_KERNEL_LISTS_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _descendants(table: dict[int, Proc], tops: Iterable[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, todo = set(), list(tops)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def processes_of_uid(uid: int) -> set[int]:
    """Live processes with ``uid`` as any of their uids (real, effective, saved, file system)."""
    return {pid for pid, proc in _table().items() if _alive(proc) and uid in _uids(pid)}


# -- killing ----------------------------------------------------------------------------------

def kill_all(find: Callable[[], Iterable[int]], deadline: float = KILL_DEADLINE) -> set[int]:
    """Kill the processes ``find`` returns until it returns none; the ones still there at the
    deadline (none, unless the kernel refuses).

    Each round stops them all before killing them, so a fork loop cannot outrun us. Each
    process is signalled through a pidfd opened after checking that its pid still names the
    process ``find`` saw (same start time): a pid freed and reused meanwhile is never hit."""
    end = time.monotonic() + deadline
    while True:
        targets = {pid: proc.start for pid in set(find())
                   if pid != os.getpid() and _alive(proc := _proc(pid))}
        if not targets or time.monotonic() > end:
            return set(targets)
        handles = [handle for pid, start in targets.items()
                   if (handle := _Handle.open(pid, start)) is not None]
        try:
            for signum in (signal.SIGSTOP, signal.SIGKILL):
                for handle in handles:
                    handle.send(signum)
        finally:
            for handle in handles:
                handle.close()
        time.sleep(0.005)  # SIGKILL is delivered asynchronously; let the round take effect


class _Handle:
    """A process to signal, by pidfd where the kernel has them (Linux >= 5.3)."""

    def __init__(self, pid: int, fd: int | None) -> None:
        self.pid, self.fd = pid, fd

    @classmethod
    def open(cls, pid: int, start: int) -> "_Handle | None":
        fd = None
        if hasattr(os, "pidfd_open"):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                return None
            except OSError:
                fd = None
        proc = _proc(pid)
        if proc is None or proc.start != start:  # gone, or the pid now names another process
            if fd is not None:
                os.close(fd)
            return None
        return cls(pid, fd)

    def send(self, signum: int) -> None:
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signum)
            else:
                os.kill(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


# -- cgroups (v2) -----------------------------------------------------------------------------

def _cgroup2_mount() -> Path | None:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                before, _dash, after = line.partition(" - ")
                if after.split(" ", 1)[0] == "cgroup2":
                    return Path(before.split()[4])
    except OSError:
        pass
    return None


def own_cgroup() -> Path | None:
    """This process's cgroup v2 folder, or None (no cgroup v2 mounted)."""
    mount = _cgroup2_mount()
    if mount is None:
        return None
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as cgroups:
            for line in cgroups:
                if line.startswith("0::"):
                    folder = mount / line[3:].strip().lstrip("/")
                    return folder if folder.is_dir() else None
    except OSError:
        pass
    return None


def make_cgroup(parent: Path | None, name: str) -> Path | None:
    """A new cgroup ``name`` under ``parent`` that this process may move processes into and
    kill, or None where that is not allowed (read-only in a container, not delegated)."""
    if parent is None:
        return None
    folder = parent / name
    try:
        folder.mkdir()
    except FileExistsError:
        pass
    except OSError:
        return None
    if not os.access(folder / "cgroup.procs", os.W_OK):
        remove_cgroup(folder)
        return None
    return folder


def cgroup_pids(folder: Path) -> set[int]:
    """Every process in the cgroup and the cgroups under it."""
    pids: set[int] = set()
    for procs in [folder / "cgroup.procs", *folder.rglob("*/cgroup.procs")]:
        try:
            pids |= {int(line) for line in procs.read_text().split()}
        except (OSError, ValueError):
            pass
    return pids


def kill_cgroup(folder: Path) -> set[int]:
    """Kill everything in the cgroup (``cgroup.kill``: all at once, Linux >= 5.14; else
    round by round); the processes still there at the deadline."""
    try:
        (folder / "cgroup.kill").write_text("1")
    except OSError:
        pass
    return kill_all(lambda: cgroup_pids(folder))


def remove_cgroup(folder: Path) -> None:
    """Remove the (empty) cgroup and the ones under it, deepest first."""
    for child in sorted(folder.rglob("*"), key=lambda path: len(path.parts), reverse=True):
        if child.is_dir():
            try:
                child.rmdir()
            except OSError:
                pass
    try:
        folder.rmdir()
    except OSError:
        pass


def _join_cgroup(folder: Path) -> None:
    with open(folder / "cgroup.procs", "w", encoding="ascii") as procs:
        procs.write(str(os.getpid()))


# -- the check: this process and the programs it starts ---------------------------------------

@dataclass
class _Scope:
    """What this process (the one that runs a check) has started."""

    pid: int
    subreaper: bool = False
    cgroup: Path | None = None
    roots: set[int] = field(default_factory=set)  # the programs it started (``program`` reaps)
    # a program it started is not in the cgroup under the student's uid (it could not join,
    # or runs as the grader's uid and could leave): its processes are looked for everywhere
    unconfined: bool = False


_scope: _Scope | None = None
_spared: set[int] = set()  # children of a host process that are the grader's own (reaper, keeper)


def _here() -> _Scope:
    """The scope of this process (a check's process is forked from the session: a new one)."""
    global _scope
    if _scope is None or _scope.pid != os.getpid():
        _scope = _Scope(os.getpid())
    return _scope


def spare(pid: int) -> None:
    """``pid`` is a child of this process that is the grader's own, though in a session of
    its own (the reaper, a keeper): never one of a submission's processes."""
    _spared.add(pid)


def become_subreaper() -> bool:
    """Make this process the subreaper of what it starts; True if it is one."""
    scope = _here()
    if not scope.subreaper:
        scope.subreaper = sys.platform.startswith("linux") and \
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return scope.subreaper


@dataclass(frozen=True)
class ChildPlan:
    """How one student program is started: decided in the grader, applied in the child."""

    interpreter: str
    launcher: list[str]
    student: Student | None = None
    cgroup: Path | None = None
    network_of: int | None = None  # join the network namespace of this process
    observe_as_student: bool = False  # read its /proc entries with the student's fsuid


def enter(launcher: list[str]) -> ChildPlan:
    """Before this process starts a student program: make it the subreaper of what it starts,
    give its check a cgroup where the session has one, and plan the child."""
    scope = _here()
    become_subreaper()
    if scope.cgroup is None and os.environ.get(CGROUP_VARIABLE):
        scope.cgroup = make_cgroup(Path(os.environ[CGROUP_VARIABLE]), f"check-{scope.pid}")
    who = student()
    network_of = None
    if who is not None and launcher and os.path.basename(launcher[0]) == "nsenter" \
            and "-t" in launcher:
        # ``nsenter -U`` into the grader's network agent would need privileges the student's
        # uid does not have (and that user namespace maps no uid but root): the child joins
        # the agent's network namespace itself, as root, before it drops its uid.
        network_of = int(launcher[launcher.index("-t") + 1])
        launcher = []
    return ChildPlan(interpreter(who), list(launcher), who, scope.cgroup, network_of,
                     who is not None and not _has_capability(CAP_SYS_PTRACE))


def register(pid: int, plan: ChildPlan) -> bool:
    """``pid`` is a program this process started with ``plan`` (``program`` waits for it,
    not the sweep). True if it is confined: in the check's cgroup under the student's uid,
    which it cannot leave, nor can anything it starts (the cgroups are root's)."""
    scope = _here()
    scope.roots.add(pid)
    confined = plan.cgroup is not None and plan.student is not None \
        and pid in cgroup_pids(plan.cgroup)
    scope.unconfined |= not confined
    return confined


def released(pid: int) -> None:
    """The program ``pid`` has been reaped by ``program``."""
    _here().roots.discard(pid)


def prepare_child(plan: ChildPlan) -> None:
    """Runs in the child between fork and exec: its cgroup and network (as root, while it
    may), no new privileges, then the student's uid with no capabilities."""
    if plan.cgroup is not None:
        try:
            _join_cgroup(plan.cgroup)
        except OSError:
            pass  # the subreaper still finds it
    if plan.network_of is not None:
        with open(f"/proc/{plan.network_of}/ns/net", "rb") as namespace:
            if _libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "cannot join the grader's network namespace")
    if sys.platform.startswith("linux"):
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    userns.drop_ambient()  # the session's own CAP_NET_RAW (an ordinary user's) stays its own
    if plan.student is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (STUDENT_PROCESSES, STUDENT_PROCESSES))
        os.setgroups([])
        os.setgid(plan.student.gid)
        os.setuid(plan.student.uid)


def members() -> set[int]:
    """Every live process of the submission started from this process: the descendants that
    run in a session other than this process's own, and everything in its check's cgroup.
    Where every program of the check was confined to the cgroup (``register``), the cgroup
    alone: what they start cannot leave it."""
    scope = _here()
    mine = os.getpid()
    found = set() if scope.cgroup is not None and not scope.unconfined else \
        _started_here(mine)
    if scope.cgroup is not None:
        found |= cgroup_pids(scope.cgroup)
    found.discard(mine)
    return {pid for pid in found if _alive(_proc(pid))}


def _started_here(mine: int) -> set[int]:
    """The descendants of this process in a session other than its own (the programs, in
    sessions of their own, and all they started: this process is their subreaper)."""
    own_session = os.getsid(0)
    children = _children(mine)
    if children is None:
        table = _table()
        tops = {pid for pid, proc in table.items()
                if proc.ppid == mine and proc.sid != own_session and pid not in _spared}
        return _descendants(table, tops)
    found, todo = set(), [pid for pid in children if pid not in _spared
                          and (proc := _proc(pid)) is not None and proc.sid != own_session]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += _children(pid) or []
    return found


def sweep() -> set[int]:
    """Kill every process of the submission started from this process (the end of a check),
    reap the orphans it adopted; the processes that could not be killed (normally none)."""
    scope = _here()
    left = kill_cgroup(scope.cgroup) if scope.cgroup is not None else set()
    left |= kill_all(members)
    reap_adopted()
    if scope.cgroup is not None and not left:
        remove_cgroup(scope.cgroup)
        scope.cgroup = None
    return left


def reap_adopted() -> None:
    """Wait for the dead orphans this process adopted as subreaper (never for a program it
    started itself, nor for a child of the grader's own: their owners wait for those)."""
    scope = _here()
    mine = os.getpid()
    own_session = os.getsid(0)
    children = _children(mine)
    table = _table() if children is None else \
        {pid: proc for pid in children if (proc := _proc(pid)) is not None}
    for pid, proc in table.items():
        if proc.ppid == mine and proc.state == "Z" and proc.sid != own_session \
                and pid not in scope.roots and pid not in _spared:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


# -- observing another uid --------------------------------------------------------------------

def _has_capability(number: int) -> bool:
    """Whether this process has the capability in its effective set (it never changes)."""
    key = (os.getpid(), number)
    if key not in _capabilities:
        _capabilities[key] = _read_capability(number)
    return _capabilities[key]


_capabilities: dict[tuple[int, int], bool] = {}


def _read_capability(number: int) -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> number & 1)
    except (OSError, ValueError):
        pass
    return False


def observe_as_student(who: Student) -> None:
    """From now on, this thread reads files as the student's uid (its file-system uid).

    Why: the kernel lets a process read another's ``/proc/PID/{syscall,io,environ,fd/*}``
    when it has CAP_SYS_PTRACE or when its file-system uid and gid are the other's. Root in a
    container with Docker's default capabilities (Gradescope) has no CAP_SYS_PTRACE. The
    file-system uid is per thread: only this thread reads as the student, and only for what
    the student may read anyway."""
    _libc.setfsgid(who.gid)
    _libc.setfsuid(who.uid)


@contextmanager
def observing() -> Iterator[None]:
    """Within the block this thread reads ``/proc`` of the student's processes as their uid,
    where the grader needs that (root without CAP_SYS_PTRACE); elsewhere it does nothing."""
    who = student()
    if who is None or _has_capability(CAP_SYS_PTRACE):
        yield
        return
    previous_gid = _libc.setfsgid(who.gid)
    previous_uid = _libc.setfsuid(who.uid)
    try:
        yield
    finally:
        _libc.setfsuid(previous_uid)
        _libc.setfsgid(previous_gid)


# -- what the student's uid may use -----------------------------------------------------------

def _grants(info: os.stat_result, who: Student, bits: int) -> bool:
    """Whether the mode bits of ``info`` give ``who`` (no supplementary groups) ``bits``
    (a combination of 4 read, 2 write, 1 execute/search)."""
    if info.st_uid == who.uid:
        mode = info.st_mode >> 6
    elif info.st_gid == who.gid:
        mode = info.st_mode >> 3
    else:
        mode = info.st_mode
    return mode & bits == bits


def reachable_by(path: Path | str, who: Student) -> bool:
    """Every folder on the way to ``path`` (and ``path``, if it is a folder) may be searched
    by ``who``."""
    path = Path(os.path.abspath(path))
    try:
        return all(_grants(os.stat(folder), who, 1)
                   for folder in [*reversed(path.parents), path] if folder.is_dir())
    except OSError:
        return False


def usable_by(program: str, who: Student) -> bool:
    """``who`` may run ``program``: every folder on the way to it (and to what it links to)
    searchable, the file readable and executable."""
    real = os.path.realpath(program)
    try:
        return reachable_by(Path(program).parent, who) and reachable_by(Path(real).parent, who) \
            and _grants(os.stat(real), who, 5)
    except OSError:
        return False


@functools.lru_cache(maxsize=8)  # the same for every program of a session: asked once
def interpreter(who: Student | None) -> str:
    """The Python the student's program runs with: the grader's own, or, when the student's
    uid cannot run that one (a Python under /root, a virtual environment kept root only), the
    interpreter it is made from or a python3 on the PATH that it can run."""
    if who is None:
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    path = os.environ.get("PATH", "/usr/bin:/bin")
    candidates = [sys.executable, os.path.realpath(sys.executable),
                  getattr(sys, "_base_executable", ""), shutil.which(version, path=path),
                  shutil.which("python3", path=path), f"/usr/bin/{version}", "/usr/bin/python3"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and usable_by(candidate, who):
            return candidate
    return sys.executable


def student_scratch(who: Student, token: str) -> Path:
    """A new folder for the student's scratch copies, root's, that ``who`` may enter but not
    list (each check's copy in it is the student's own), outside every folder of the grader."""
    for parent in _scratch_parents():
        if parent.is_dir() and reachable_by(parent, who):
            folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{token}-", dir=parent))
            folder.chmod(0o711)
            return folder
    raise ContainmentError("no temporary folder the student's uid can enter")


def _scratch_parents() -> list[Path]:
    return [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")]


# -- uid leases (root keepers) ----------------------------------------------------------------

@dataclass
class Lease:
    """A uid this keeper alone uses, until ``release``."""

    uid: int
    gid: int
    fd: int

    def release(self) -> None:
        os.ftruncate(self.fd, 0)
        os.close(self.fd)


def _lease_folder() -> Path:
    """Root's own folder for the lock files (never one another user could have made)."""
    for folder in (LEASES, Path(tempfile.gettempdir()) / "tcp-grader-leases"):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o077:
            return folder
    raise ContainmentError("no private folder for the student uid's lock (/run/tcp-grader)")


def _uid_base() -> tuple[int, bool]:
    value = os.environ.get(STUDENT_UID_VARIABLE, "")
    return (int(value), True) if value.isdigit() and int(value) > 0 else (DEFAULT_UID_BASE, False)


def lease_uid(token: str) -> Lease:
    """A uid for one session's student: the first of the range with no user, no group and no
    process, whose lock this keeper takes (GRADER_STUDENT_UID, when set, is the first of the
    range and may name a user made for it, as the Gradescope bundle's setup does)."""
    base, named_base = _uid_base()
    folder = _lease_folder()
    for uid in range(base, base + UID_RANGE):
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            entry = None
        if entry is not None and not (named_base and uid == base):
            continue  # a person's (or a service's) uid is never borrowed
        gid = entry.pw_gid if entry is not None else uid
        if entry is None:
            try:
                grp.getgrgid(gid)
                continue
            except KeyError:
                pass
        fd = os.open(folder / f"uid-{uid}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if processes_of_uid(uid):  # left by a session whose keeper was killed: not ours
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, token.encode())
        return Lease(uid, gid, fd)
    last = base + UID_RANGE - 1
    raise ContainmentError(f"no free uid for the student's programs in {base}..{last}")


def _abandoned_leases(matches: Callable[[str], bool]) -> Iterator[int]:
    """The uids of leases whose token ``matches`` and whose keeper is gone; each is held
    (locked) while the caller clears it, and released after."""
    try:
        folder = _lease_folder() if os.geteuid() == 0 else None
    except ContainmentError:
        folder = None
    if folder is None:
        return
    for path in sorted(folder.glob("uid-*")):
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if matches(os.pread(fd, 200, 0).decode("ascii", "replace")):
                yield int(path.name.removeprefix("uid-"))
                os.ftruncate(fd, 0)
        except (BlockingIOError, ValueError):
            pass  # its keeper is still at work
        finally:
            os.close(fd)


# -- the keeper -------------------------------------------------------------------------------

def keeper_command(token: str, command: list[str]) -> list[str]:
    """The command that runs ``command`` (a grading session) under a keeper."""
    return [sys.executable, "-I", "-m", __name__, "keep", token, "--", *command]


def stop_keeper(keeper, grace: float = KEEPER_GRACE) -> None:
    """Ask a keeper (a ``subprocess.Popen``) to kill its session and clear up, and wait for it;
    after ``grace`` seconds kill it outright (``clean_up_after`` then does its work)."""
    if keeper.poll() is None:
        keeper.send_signal(signal.SIGTERM)
        try:
            keeper.wait(grace)
            return
        except Exception:  # subprocess.TimeoutExpired
            pass
        try:
            os.killpg(keeper.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    keeper.wait()


def clean_up_after(token: str) -> None:
    """After a keeper has ended, however it ended: its cgroup and its uid emptied (the work of
    a keeper that was killed before it could do it)."""
    _clean_up(lambda name: name == token)


def clean_up_owner(owner: str) -> None:
    """The same for every session of one grader process (its reaper, once it is gone)."""
    _clean_up(lambda name: name.startswith(f"{owner}-"))


def _clean_up(matches: Callable[[str], bool]) -> None:
    parent = own_cgroup()
    if parent is not None:
        for folder in parent.glob("tcp-grader-*"):
            if matches(folder.name.removeprefix("tcp-grader-")):
                kill_cgroup(folder)
                remove_cgroup(folder)
    for uid in _abandoned_leases(matches):
        kill_all(lambda uid=uid: processes_of_uid(uid))
    if os.geteuid() != 0:
        return  # only a root keeper makes a scratch folder of the student's
    for parent in set(_scratch_parents()):
        for folder in parent.glob(f"{SCRATCH_PREFIX}*"):
            token = folder.name.removeprefix(SCRATCH_PREFIX).rsplit("-", 1)[0]
            if not matches(token):
                continue  # another session's, which its own keeper may be removing now
            try:
                info = os.lstat(folder)
            except FileNotFoundError:
                continue  # removed meanwhile
            if stat.S_ISDIR(info.st_mode) and info.st_uid == 0:
                shutil.rmtree(folder, ignore_errors=True)


class _Keeper:
    """A session's keeper: the session's parent and subreaper. When the session ends, or on
    SIGTERM (the host's deadline), it kills every process left under it, in the session's
    cgroup and of the student's uid, then removes the cgroup and the student's scratch
    folder and gives the uid back. Only then does it exit, with the session's status."""

    def __init__(self, token: str, command: list[str]) -> None:
        self.token, self.command = token, command
        self.session: int | None = None
        self.stopping = False
        self.lease: Lease | None = None
        self.cgroup: Path | None = None
        self.scratch: Path | None = None

    def _stop(self, _signum, _frame) -> None:
        self.stopping = True
        if self.session is not None:
            try:
                os.kill(self.session, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop)
        become_subreaper()
        status = 1
        try:
            userns.enter()  # first (single-threaded); if it cannot, the views say "not captured"
            env = self._environment()
            if not self.stopping:
                self.session = os.posix_spawn(self.command[0], self.command, env, setsid=True)
                if self.stopping:
                    self._stop(0, None)
                status = self._wait()
        except ContainmentError as error:
            print(f"containment: {error}", file=sys.stderr, flush=True)
            status = EXIT_SURVIVORS
        finally:
            left = self._clear()
        if left:
            print(f"containment: {len(left)} processes of the submission could not be killed: "
                  f"{sorted(left)}", file=sys.stderr, flush=True)
            return EXIT_SURVIVORS
        return status

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ, **{SESSION_MARKER: self.token})
        for name in (CGROUP_VARIABLE, SCRATCH_VARIABLE, STUDENT_GID_VARIABLE):
            env.pop(name, None)
        if os.geteuid() == 0:
            self.lease = lease_uid(self.token)
            self.scratch = student_scratch(Student(self.lease.uid, self.lease.gid), self.token)
            env.update({STUDENT_UID_VARIABLE: str(self.lease.uid),
                        STUDENT_GID_VARIABLE: str(self.lease.gid),
                        SCRATCH_VARIABLE: str(self.scratch)})
        self.cgroup = make_cgroup(own_cgroup(), f"tcp-grader-{self.token}")
        if self.cgroup is not None:
            env[CGROUP_VARIABLE] = str(self.cgroup)
        return env

    def _wait(self) -> int:
        """Reap everything until the session ends; its exit status (128 + signal if killed)."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return 1
            if pid == self.session:
                if os.WIFSIGNALED(status):
                    return 128 + os.WTERMSIG(status)
                return os.WEXITSTATUS(status)

    def _members(self) -> set[int]:
        table = _table()
        found = _descendants(table, [os.getpid()])
        if self.cgroup is not None:
            found |= cgroup_pids(self.cgroup)
        if self.lease is not None:
            found |= {pid for pid in table if self.lease.uid in _uids(pid)}
        found.discard(os.getpid())
        return {pid for pid in found if _alive(table.get(pid) or _proc(pid))}

    def _clear(self) -> set[int]:
        left = kill_cgroup(self.cgroup) if self.cgroup is not None else set()
        left |= kill_all(self._members)
        while True:  # reap every dead child, the session's orphans included
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if self.cgroup is not None and not left:
            remove_cgroup(self.cgroup)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.lease is not None and not left:
            self.lease.release()  # only once nothing runs under the uid any more
        return left


# -- describe ---------------------------------------------------------------------------------

def describe() -> list[str]:
    """What contains a session on this machine, for this user (README: security section)."""
    probe = os.fork()
    if probe == 0:  # whether prctl works, without making this process a subreaper
        os._exit(0 if become_subreaper() else 1)
    subreaper = os.WEXITSTATUS(os.waitpid(probe, 0)[1]) == 0
    lines = [f"child subreaper: {'yes' if subreaper else 'NO'} (orphans of a check are "
             f"re-parented to the process that runs it)"]
    parent = own_cgroup()
    cgroup = make_cgroup(parent, f"tcp-grader-probe-{os.getpid()}")
    if cgroup is not None:
        killer = "cgroup.kill" if (cgroup / "cgroup.kill").exists() else "round by round"
        remove_cgroup(cgroup)
        lines.append(f"cgroup v2: yes, under {parent} ({killer})")
    else:
        why = "none mounted" if parent is None else f"{parent} is not writable"
        lines.append(f"cgroup v2: no ({why})")
    if os.geteuid() == 0:
        base, named = _uid_base()
        lines.append(f"student uid: leased per session from {base}..{base + UID_RANGE - 1}"
                     f"{' (GRADER_STUDENT_UID)' if named else ''}, no capabilities, "
                     f"no new privileges, at most {STUDENT_PROCESSES} processes")
        ptrace = _has_capability(CAP_SYS_PTRACE)
        lines.append("observing the student's /proc: " + (
            "CAP_SYS_PTRACE" if ptrace else "as its file-system uid (no CAP_SYS_PTRACE)"))
    else:
        lines.append("student uid: no (not root: the programs run as this user, who is trusted)")
    lines.append(userns.describe())
    lines.append("pid namespace: not used (see grader/session/containment.py)")
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["keep"] and len(argv) > 3 and argv[2] == "--":
        return _Keeper(argv[1], argv[3:]).run()
    if argv[:1] == ["describe"]:
        print("\n".join(describe()))
        return 0
    if argv[:1] == ["sweep-uid"] and len(argv) == 2 and argv[1].isdigit() and int(argv[1]) > 0:
        return 1 if kill_all(lambda: processes_of_uid(int(argv[1]))) else 0
    print("usage: python -I -m grader.session.containment keep TOKEN -- COMMAND... | describe"
          " | sweep-uid UID", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
