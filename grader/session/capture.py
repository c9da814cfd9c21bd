"""The check's own packets: a capture on the loopback of the network the session runs in.

Why: the lesson is about what goes over the wire (the handshake, who sends the FIN, a
reset, TIME_WAIT), and the grader's own socket calls only see what reaches the
application. A packet socket on ``lo`` sees every segment, as tcpdump would.

Each check runs in a child process of its own (``schedule``), so each has its own
``Capture``, started before the check's fixtures and read when its result is made. Checks
side by side share the loopback; a capture keeps only the segments to or from the ports
its check registered with ``watch`` (the program's listening port, the grader's), so one
check never shows another's connections. The kernel does most of that sorting
(``portfilter``): a capture is only handed its own check's segments. Every connection of a
check has one end on such a port, and the port is known before the first SYN.

Where the session may not open a packet socket (an ordinary user outside a namespace of
its own, another OS), ``start`` says why and the check's view is built from the grader's
own log instead, and says so (``grader.wire``).

Bounded: at most ``MAX_FRAMES`` frames per check, of at most ``wire.SNAPLEN`` bytes each
(the headers and the first bytes of data): the first ones and the last ones are kept, and
how many were left out between them is counted.
"""

from __future__ import annotations

import fcntl
import os
import socket
import termios
import threading
import time
from dataclasses import dataclass


from .. import wire
from . import kernel, portfilter
from .waiting import wait_until

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # linux/if_packet.h: loopback shows each packet twice; keep one copy
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23  # linux/if_packet.h (Linux 4.20)
MAX_FRAMES = 160
KEEP_LAST = 40
IDLE_POLL = 0.05  # a reader with nothing to read says so this often (``frames`` waits for it)
CATCH_UP_DEADLINE = 1.0  # for the readers to take what the kernel queued before the verdict


@dataclass(frozen=True)
class Frame:
    """One captured Ethernet frame: when (seconds since the epoch), its length on the wire,
    and its first ``wire.SNAPLEN`` bytes."""

    at: float
    length: int
    data: bytes


class Capture:
    """A packet socket on ``lo`` read by a thread of its own until ``close``."""

    def __init__(self, sock: socket.socket | None, why: str = "") -> None:
        self.why = why  # without a packet socket: why (only the socket table is watched)
        self.watched: dict[int, str | None] = {}  # port -> whose: see wire.connections
        self.first: list[Frame] = []
        self.last: list[Frame] = []
        self.left_out = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._readers: list[tuple[socket.socket, threading.Thread]] = []
        self._emptied_at: dict[int, float] = {}  # reader's socket fd -> when it found it empty
        # (local, remote, state) -> [first, last] time a table read showed that row
        self.states: dict[tuple, list[float]] = {}
        if sock is not None:
            self.add(sock)

    @property
    def capturing(self) -> bool:
        return bool(self._readers)

    def add(self, sock: socket.socket) -> None:
        """Read one more packet socket: the loopback of a network the check made."""
        _tune(sock)
        with self._lock:
            portfilter.attach(sock, set(self.watched))
        reader = threading.Thread(target=self._read, args=(sock,), name="capture", daemon=True)
        self._readers.append((sock, reader))
        reader.start()

    def watch(self, port: int, owner: str | None) -> None:
        """Keep the segments to or from ``port``, which belongs to ``owner`` (None: not
        known yet; a later call may say whose it is)."""
        with self._lock:
            new = port not in self.watched
            if self.watched.get(port) is None:
                self.watched[port] = owner
            if new:
                # Before the port's first segment: the kernel queues it from now on.
                for sock, _reader in self._readers:
                    portfilter.attach(sock, set(self.watched))

    def saw_rows(self, rows) -> None:
        """Note the rows of a socket table read that belong to this check's ports."""
        now = time.time()
        with self._lock:
            for row in rows:
                if row.local_port in self.watched or row.remote_port in self.watched:
                    key = (row.local, row.remote, row.state.name)
                    self.states.setdefault(key, [now, now])[1] = now

    def seen_states(self) -> list[tuple]:
        with self._lock:
            return [(local, remote, state, first, last)
                    for (local, remote, state), (first, last) in self.states.items()]

    def owners(self) -> dict[int, str | None]:
        with self._lock:
            return dict(self.watched)

    def frames(self) -> tuple[list[Frame], int]:
        """The frames kept so far, in order, and how many were left out between them: once
        every reader has taken what the kernel had queued when this was asked. On a loaded
        machine a reader lags; without the wait, the last segments the verdict was based on
        (the FIN a check waited for) could be missing from its view."""
        asked = time.monotonic()
        wait_until(lambda: all(self._emptied_at.get(sock.fileno(), 0.0) >= asked
                               for sock, _reader in self._readers), CATCH_UP_DEADLINE)
        with self._lock:
            return self.first + self.last, self.left_out

    def close(self) -> None:
        self._closed.set()
        for sock, reader in self._readers:
            reader.join(timeout=2.0)
            sock.close()

    def _read(self, sock: socket.socket) -> None:
        buffer = bytearray(wire.SNAPLEN)
        while not self._closed.is_set():
            try:
                # MSG_TRUNC: the frame's whole length, though only wire.SNAPLEN bytes are copied
                length, address = sock.recvfrom_into(buffer, wire.SNAPLEN, socket.MSG_TRUNC)
            except socket.timeout:
                self._emptied_at[sock.fileno()] = time.monotonic()
                continue
            except OSError:
                return
            if address[2] != PACKET_OUTGOING:
                self._keep(Frame(time.time(), length, bytes(buffer[:min(length, wire.SNAPLEN)])))
            if _queued(sock) == 0:
                self._emptied_at[sock.fileno()] = time.monotonic()

    def _keep(self, frame: Frame) -> None:
        ports = _ports(frame.data)
        with self._lock:
            if ports is None or not (ports[0] in self.watched or ports[1] in self.watched):
                return
            if len(self.first) < MAX_FRAMES - KEEP_LAST:
                self.first.append(frame)
                return
            self.last.append(frame)
            if len(self.last) > KEEP_LAST:
                self.last.pop(0)
                self.left_out += 1


def _queued(sock: socket.socket) -> int:
    """The size of the next frame waiting in the socket (0: none)."""
    try:
        return int.from_bytes(fcntl.ioctl(sock, termios.FIONREAD, b"\0" * 4), "little")
    except OSError:
        return 0


def _ports(data: bytes) -> tuple[int, int] | None:
    """The TCP ports of a frame, or None if it is not TCP over IP."""
    layers = wire.tcp_layer(data)
    return None if layers is None else (layers[1].sport, layers[1].dport)


def start() -> Capture | str:
    """A capture of ``lo``, or why none can be made here."""
    if not hasattr(socket, "AF_PACKET"):
        return "this system has no packet sockets"
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        return "capturing packets needs CAP_NET_RAW, which this session does not have"
    except OSError as error:
        return f"no packet socket: {error.strerror or error}"
    try:
        sock.bind(("lo", 0))
    except OSError as error:
        sock.close()
        return f"the loopback interface cannot be captured: {error.strerror or error}"
    return Capture(sock)


def _tune(sock: socket.socket) -> None:
    # Room for bursts of the other checks' traffic, which the socket sees before it is
    # filtered out here: a full buffer would drop this check's own segments too.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    # The buffer is charged each frame's whole size (up to 64 KiB on lo), not the bytes kept,
    # and lo hands every packet over twice: without its outgoing copies the same buffer
    # holds twice the frames (the copies are still skipped in ``_read`` on older kernels).
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass  # before Linux 4.20
    sock.settimeout(IDLE_POLL)


OFF_SWITCH = "GRADER_NO_CAPTURE"  # 1: no capture (to measure what capturing costs)

# The capture of the check running in this process (each check has a process of its own).
CURRENT: Capture | None = None
UNAVAILABLE = ""


def begin() -> None:
    global CURRENT, UNAVAILABLE
    opened = start() if os.environ.get(OFF_SWITCH) != "1" else f"{OFF_SWITCH}=1 is set"
    # Without a packet socket the socket table is still watched: the view is then drawn
    # from the grader's own log (``observed``), with the states the table showed.
    CURRENT, UNAVAILABLE = (opened, "") if isinstance(opened, Capture) else \
        (Capture(None, why=opened), opened)
    kernel.OBSERVERS.append(CURRENT.saw_rows)


def watch(port: int, owner: str | None = None) -> None:
    """Keep this check's segments to or from ``port`` (a no-op without a capture)."""
    if CURRENT is not None:
        CURRENT.watch(port, owner)


def also_in(network) -> None:
    """Capture the loopback of a network namespace the check made, too (``netns``)."""
    make = getattr(network, "packet_socket", None)
    if CURRENT is None or make is None:
        return
    sock = make()
    if sock is not None:
        CURRENT.add(sock)


def observed(grader_ports: set[int], logs: list[dict] = ()) -> dict:
    """The ``wire`` entry of the check running now (``grader.wire``). ``grader_ports``: the
    local ports of the grader's own sockets, which settle whose each end is. ``logs``: its
    connections as the grader's sockets logged them (``events.ladder``), drawn instead
    where nothing could be captured."""
    if CURRENT is None:
        return wire.not_captured(UNAVAILABLE or "no capture was started for this check")
    if not CURRENT.capturing:
        return wire.from_log(CURRENT.why, list(logs), CURRENT.seen_states())
    frames, left_out = CURRENT.frames()
    owners = CURRENT.owners()
    owners.update({port: wire.GRADER for port in grader_ports})
    return wire.document(frames, owners, left_out, CURRENT.seen_states())


def end() -> None:
    global CURRENT
    if CURRENT is not None:
        if CURRENT.saw_rows in kernel.OBSERVERS:
            kernel.OBSERVERS.remove(CURRENT.saw_rows)
        CURRENT.close()
        CURRENT = None
