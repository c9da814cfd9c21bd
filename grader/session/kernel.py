"""The kernel's view of TCP sockets: ``/proc/net/tcp`` and ``/proc/net/tcp6``.

Rule 1: this module only reads the socket table and the ``socket:[inode]`` links of
processes. It never opens a connection: probing a one-client server by connecting to
it would use up its one client (design principle 3), so readiness is a LISTEN row.
Rule 2: it knows nothing about exercises, points or feedback.

The table is what the student's program cannot hide: a socket left in CLOSE_WAIT after
the peer's FIN, a keepalive timer armed on an accepted connection, TIME_WAIT rows left by
whoever closed first. TIME_WAIT rows belong to no process any more (uid 0, inode 0), so
they are matched by address and port, never by pid.
"""

from __future__ import annotations

import enum
import functools
import os
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Iterable

from . import sockdiag
from .containment import observing
from .waiting import wait_until


class TcpState(enum.IntEnum):
    """The ``st`` column of ``/proc/net/tcp`` (include/net/tcp_states.h)."""

    ESTABLISHED = 0x01
    SYN_SENT = 0x02
    SYN_RECV = 0x03
    FIN_WAIT1 = 0x04
    FIN_WAIT2 = 0x05
    TIME_WAIT = 0x06
    CLOSE = 0x07
    CLOSE_WAIT = 0x08
    LAST_ACK = 0x09
    LISTEN = 0x0A
    CLOSING = 0x0B


class TimerKind(enum.IntEnum):
    """The ``tr`` column: which timer is pending on the socket."""

    NONE = 0
    RETRANSMIT = 1
    KEEPALIVE = 2  # the kernel also shows some other timers as 2; see keepalive checks
    TIME_WAIT = 3
    ZERO_WINDOW_PROBE = 4


@dataclass(frozen=True)
class SocketRow:
    """One row of the socket table."""

    local: tuple[str, int]
    remote: tuple[str, int]
    state: TcpState
    tx_queue: int
    rx_queue: int
    timer: TimerKind
    timer_seconds: float  # time until the pending timer fires
    uid: int
    inode: int

    @property
    def local_port(self) -> int:
        return self.local[1]

    @property
    def remote_port(self) -> int:
        return self.remote[1]

    def describe(self) -> str:
        return (f"{self.local[0]}:{self.local[1]} -> {self.remote[0]}:{self.remote[1]} "
                f"{self.state.name}")


def _decode_address(text: str) -> tuple[str, int]:
    """``0100007F:1E61`` -> ``("127.0.0.1", 7777)``; IPv6 rows are four such words."""
    host_hex, port_hex = text.split(":")
    return _decode_host(host_hex), int(port_hex, 16)


# A table holds hundreds of rows (connections in TIME_WAIT stay a minute) and the checks read
# it every few milliseconds while they wait, but its rows name only a handful of hosts.
@functools.lru_cache(maxsize=256)
def _decode_host(host_hex: str) -> str:
    raw = bytes.fromhex(host_hex)
    # The kernel prints each 32-bit word of the address in host byte order.
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    packed = struct.pack(f">{len(words)}I", *words)
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    host = socket.inet_ntop(family, packed)
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]  # an IPv4 peer of a dual-stack socket
    return host


_STATES = {f"{state.value:02X}": state for state in TcpState}


def parse_table(text: str) -> list[SocketRow]:
    """Parse the text of ``/proc/net/tcp`` or ``/proc/net/tcp6`` (header line included)."""
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        tx_hex, rx_hex = fields[4].split(":")
        timer_hex, when_hex = fields[5].split(":")
        try:
            timer = TimerKind(int(timer_hex, 16))
        except ValueError:
            timer = TimerKind.NONE
        rows.append(SocketRow(
            local=_decode_address(fields[1]),
            remote=_decode_address(fields[2]),
            state=_STATES.get(fields[3]) or TcpState(int(fields[3], 16)),
            tx_queue=int(tx_hex, 16),
            rx_queue=int(rx_hex, 16),
            timer=timer,
            timer_seconds=int(when_hex, 16) / 100.0,  # hundredths of a second (USER_HZ)
            uid=int(fields[7]),
            inode=int(fields[9]),
        ))
    return rows


# Called with every table read (the wire view notes the states the checks saw).
OBSERVERS: list[Callable[[list[SocketRow]], None]] = []


def read_table(namespace_pid: int | None = None) -> list[SocketRow]:
    """Every TCP socket of a network namespace, IPv4 and IPv6: ours, or that of the process
    ``namespace_pid`` (``/proc/PID/net/tcp`` shows the namespace of PID)."""
    rows = _read_table(namespace_pid)
    for observer in OBSERVERS:
        observer(rows)
    return rows


def _read_table(namespace_pid: int | None) -> list[SocketRow]:
    base = f"/proc/{namespace_pid}/net" if namespace_pid else "/proc/net"
    rows: list[SocketRow] = []
    for name in ("tcp", "tcp6"):
        try:
            rows.extend(parse_table(_read_whole(f"{base}/{name}")))
        except FileNotFoundError:
            continue  # no IPv6 in this kernel or namespace
        except OSError:
            continue  # the process is gone
    return rows


# A read of /proc/net/tcp returns at most one page of rows. One that returns less than a
# page by more than a row's length (about 150 bytes) has reached the end of the table.
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_ROOM_FOR_A_ROW = 512


def _read_whole(path: str) -> str:
    """The whole text of a socket table, without the read that returns nothing.

    Why: the kernel walks its whole hash of connections, empty buckets included, for every
    read of the file, and the last read (which finds nothing more) starts that walk over
    from the beginning. On a machine with much memory the hash is large (262144 buckets
    with 24 GiB): a table of a few sockets took two walks of several milliseconds each,
    and the checks read it every 10 ms while they wait."""
    chunks = []
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            chunk = os.read(fd, 1 << 16)
            chunks.append(chunk)
            if not chunk or len(chunk) + _ROOM_FOR_A_ROW <= _PAGE:
                break
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii")


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """Inodes of the sockets the given processes hold open (from ``/proc/PID/fd``).

    Read as the student's uid where root may not look into another uid's descriptors
    (Docker's default capabilities, as on Gradescope: ``containment.observing``)."""
    with observing():
        return _socket_inodes(pids)


def _socket_inodes(pids: Iterable[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone, or another user's process
        for name in names:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:["):-1]))
    return inodes


def sockets_of(pids: Iterable[int]) -> list[SocketRow]:
    """The TCP rows that belong to the given processes, read in their own network namespace
    (not TIME_WAIT rows: those belong to no process)."""
    pids = list(pids)
    if not pids:
        return []
    inodes = socket_inodes(pids)
    return [row for row in read_table(pids[0]) if row.inode in inodes and row.inode != 0]


def rows_on_port(port: int, state: TcpState | None = None,
                 namespace_pid: int | None = None) -> list[SocketRow]:
    """Rows whose local port is ``port`` (optionally in one state)."""
    rows = listening_rows(namespace_pid) if state == TcpState.LISTEN else \
        read_table(namespace_pid)
    return [row for row in rows
            if row.local_port == port and (state is None or row.state == state)]


def listening_rows(namespace_pid: int | None = None) -> list[SocketRow]:
    """The LISTEN rows of a network namespace. Ours are asked of the kernel over netlink,
    a tenth of the cost of the whole table (``sockdiag``: what a check waiting for a
    server to listen pays every 10 ms); another namespace's, or where netlink is refused,
    come from ``/proc``."""
    if namespace_pid is not None or not _NETLINK_WORKS:
        return [row for row in read_table(namespace_pid) if row.state == TcpState.LISTEN]
    try:
        listeners = sockdiag.listening()
    except OSError:
        _stop_asking_netlink()
        return listening_rows(namespace_pid)
    rows = [_listening_row(listener) for listener in listeners]
    for observer in OBSERVERS:
        observer(rows)
    return rows


_NETLINK_WORKS = True


def _stop_asking_netlink() -> None:
    global _NETLINK_WORKS
    _NETLINK_WORKS = False


def _listening_row(listener: sockdiag.Listener) -> SocketRow:
    # As /proc/net/tcp shows a listening socket: no peer, its accept queue as rx_queue.
    nobody = "0.0.0.0" if listener.family == socket.AF_INET else "::"
    return SocketRow(local=listener.local, remote=(nobody, 0), state=TcpState.LISTEN,
                     tx_queue=0, rx_queue=listener.rx_queue, timer=TimerKind.NONE,
                     timer_seconds=0.0, uid=listener.uid, inode=listener.inode)


def is_listening(port: int, namespace_pid: int | None = None) -> bool:
    return bool(rows_on_port(port, TcpState.LISTEN, namespace_pid))


def connection_rows(local_port: int, remote_port: int) -> list[SocketRow]:
    """The rows of one connection seen from one end (its local and remote port)."""
    return [row for row in read_table()
            if row.local_port == local_port and row.remote_port == remote_port]


def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel picks from for a socket that did not bind one."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as ports:
            low, high = ports.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def wait_for_listen(port: int, timeout: float,
                    still_running: Callable[[], bool] = lambda: True,
                    namespace_pid: int | None = None) -> bool:
    """Wait until something listens on ``port``; give up early once the program has ended."""
    wait_until(lambda: is_listening(port, namespace_pid) or not still_running(), timeout)
    return is_listening(port, namespace_pid)
