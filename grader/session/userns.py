"""An ordinary user's session in a network of its own: a new user and network namespace.

Why: as an ordinary user (a student's ``tox``) the session may not open a packet socket on
the machine's loopback, so its checks could not be captured for the wire view; and a
student's program that hard-codes its port would clash with their other programs. In a
network namespace of its own the session has a loopback nobody else uses, nothing it sends
can leave the machine, and, as the owner of that namespace, it may capture on it.

How: the keeper (``containment``), before it starts the session, moves itself into a new
user and network namespace, maps only its own uid and gid (so every file it writes stays
the user's, and ``os.getuid()`` is what it was), brings the loopback up, and keeps one
capability, CAP_NET_RAW over that namespace, as an *ambient* capability: the session it
starts inherits it across ``exec``. The student's programs do not: ``prepare_child`` clears
the ambient set before their ``exec``, so they run with no capability at all.

Only for an ordinary user on Linux: root (CI, Gradescope's container, the docker runner's
container) captures already. Where the kernel refuses an unprivileged user namespace, or
``GRADER_OWN_NETWORK=0`` says not to, the session runs on the machine's network as before
and its checks' views say that they are not captures. The attempt is made first in a
throw-away child, so a kernel that lets the namespace be made but not used (an AppArmor
restriction) never leaves the keeper half inside one.
"""

from __future__ import annotations

import ctypes
import os
import sys

from .netns import loopback_up_ioctl

SWITCH = "GRADER_OWN_NETWORK"  # "0": the session stays on the machine's network
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CAP_NET_RAW = 13
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def why_not() -> str | None:
    """Why the session stays on the machine's network here, or None if it can have its own."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.geteuid() == 0:
        return "root captures on the machine's loopback"
    if os.environ.get(SWITCH, "1") == "0":
        return f"{SWITCH}=0"
    if not _can_enter():
        return "the kernel refuses an unprivileged user namespace"
    return None


def enter() -> str | None:
    """Move this (single-threaded) process into a network of its own; None once done, or why
    it stays on the machine's network."""
    reason = why_not()
    if reason is not None:
        return reason
    try:
        _enter()
    except OSError as error:  # the probe succeeded: only a race could land here
        return f"cannot enter a user and network namespace: {error}"
    return None


def _can_enter() -> bool:
    """Whether ``_enter`` works here, tried in a child that exits right after."""
    probe = os.fork()
    if probe == 0:
        status = 1
        try:
            _enter()
            status = 0
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(probe, 0)[1]) == 0


def _enter() -> None:
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    loopback_up_ioctl()
    _keep_across_exec(CAP_NET_RAW)


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _keep_across_exec(capability: int) -> None:
    """Make ``capability`` (held now, as the new namespace's owner) ambient: an ambient
    capability must also be inheritable, and stays through ``exec`` of a plain program."""
    header, data = _Header(_CAPABILITY_VERSION_3, 0), (_Data * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].inheritable |= 1 << capability
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    if _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAP_AMBIENT_RAISE)")


def drop_ambient() -> None:
    """Between fork and exec of a student's program: it inherits no capability."""
    if sys.platform.startswith("linux"):
        _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def describe() -> str:
    """One line for ``containment describe``: where the session's network is."""
    reason = why_not()
    if reason is None:
        return "own network: yes (a user and network namespace; its checks are captured)"
    return f"own network: no ({reason})"
