"""The grader as the student program's TCP peer, on loopback, recording everything.

Rule 1: every socket here is non-blocking and every operation has a deadline, so a silent
or hung program costs at most the deadline, never a stuck grader.
Rule 2: every byte, end of stream, reset and half-close is appended to a ``WireLog``; checks
judge the log, feedback prints it. This module never decides whether something is right.

End of stream versus reset, as the receiver sees them: ``recv`` returns ``b''`` for the
peer's FIN and raises ``ConnectionResetError`` for its RST.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable

from . import events
from .events import WireLog
from .waiting import Deadline

LOOPBACK = "127.0.0.1"
RECV_SIZE = 65536
# What the grader takes from one connection at most. The largest legitimate reply in the
# kit is a 1 MiB echo; a program that floods its peer is cut off here, so it cannot exhaust
# the grader's memory within a read's deadline.
RECEIVE_CAP = 16 * 1024 * 1024


@dataclass(frozen=True)
class Reception:
    """What one read produced and why it stopped.

    ``ending`` is one of: ``"condition"`` (what the caller waited for arrived), ``"eof"``
    (the program sent FIN), ``"reset"`` (RST), ``"timeout"`` (deadline, nothing more came),
    ``"overflow"`` (the program sent more than ``RECEIVE_CAP``; the grader stopped reading).
    """

    data: bytes
    ending: str

    @property
    def closed(self) -> bool:
        return self.ending in ("eof", "reset")


class PeerConnection:
    """One TCP connection between the grader and the program."""

    def __init__(self, sock: socket.socket, log: WireLog) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.log = log
        self.buffer = b""  # received and not yet handed out by a read_* call
        self.ended: str | None = None  # "eof", "reset" or "overflow": nothing more to read
        self.received = 0
        self.local_port = sock.getsockname()[1]
        self.remote_port = sock.getpeername()[1]

    # -- sending -------------------------------------------------------------------

    def send(self, data: bytes, timeout: float = 5.0) -> bool:
        """Send all of ``data``; False if the program stopped reading or reset."""
        view = memoryview(data)
        deadline = Deadline(timeout)
        while view:
            if not self._wait(selectors.EVENT_WRITE, deadline):
                return False
            try:
                count = self.sock.send(view)
            except BlockingIOError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self._mark_reset()
                return False
            self.log.add(events.Sent, data=bytes(view[:count]))
            view = view[count:]
        return True

    def send_pieces(self, pieces: list[bytes], pause: float) -> bool:
        """Send pieces with a pause between them, so the program sees separate segments."""
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(pause)  # the pause itself is the thing under test
            if not self.send(piece):
                return False
        return True

    def shutdown_write(self) -> None:
        """Half-close: send FIN, keep reading (lesson 4.5)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.log.add(events.HalfClosed)
        except OSError:
            pass

    def reset(self) -> None:
        """Abort with RST: SO_LINGER on with a zero timeout, then close."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()
        self.log.add(events.ResetSent)

    def close(self) -> None:
        if self.sock.fileno() != -1:
            self.sock.close()
            self.log.add(events.Closed)

    # -- receiving -----------------------------------------------------------------

    def read(self, timeout: float, until: Callable[[bytes], bool] | None = None) -> Reception:
        """Read until ``until(buffer)`` holds, the program's side ends, or the deadline.

        The data returned is taken out of the buffer; for ``until`` it is all that was read.
        """
        deadline = Deadline(timeout)
        while not (until and until(self.buffer)):
            if self.ended:
                break
            if not self._wait(selectors.EVENT_READ, deadline):
                self.log.add(events.Silence, waited=timeout)
                data, self.buffer = self.buffer, b""
                return Reception(data, "timeout")
            self._receive_once()
        data, self.buffer = self.buffer, b""
        ending = "condition" if until and until(data) else (self.ended or "timeout")
        return Reception(data, ending)

    def read_until_closed(self, timeout: float) -> Reception:
        return self.read(timeout)

    def read_exactly(self, count: int, timeout: float) -> Reception:
        reception = self.read(timeout, until=lambda buffer: len(buffer) >= count)
        if len(reception.data) > count:
            self.buffer = reception.data[count:] + self.buffer
            return Reception(reception.data[:count], reception.ending)
        return reception

    def read_line(self, timeout: float) -> Reception:
        """One ``\\n``-terminated line (terminator included); the rest stays buffered."""
        reception = self.read(timeout, until=lambda buffer: b"\n" in buffer)
        line, newline, rest = reception.data.partition(b"\n")
        if newline:
            self.buffer = rest + self.buffer
            return Reception(line + newline, "condition")
        return reception

    def wait_closed(self, timeout: float) -> Reception:
        """Wait for the program's FIN or RST, discarding nothing: data is returned too."""
        return self.read(timeout)

    def exchange(self, data: bytes, expect: int, timeout: float, chunk: int = 16384) -> Reception:
        """Write ``data`` while reading replies at the same time (no deadlock for large echoes).

        Reads until ``expect`` bytes came back, the program's side ended, or the deadline.
        """
        deadline = Deadline(timeout)
        view = memoryview(data)
        offset = 0
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while len(self.buffer) < expect and not self.ended and not deadline.expired():
                writing = offset < len(data)
                selector.modify(self.sock, selectors.EVENT_READ
                                | (selectors.EVENT_WRITE if writing else 0))
                for _key, mask in selector.select(min(deadline.left(), 0.5)):
                    if mask & selectors.EVENT_READ:
                        self._receive_once()
                    if mask & selectors.EVENT_WRITE and writing:
                        offset += self._send_chunk(view[offset:offset + chunk])
        finally:
            selector.close()
        return self.read_exactly(expect, 0) if len(self.buffer) >= expect else self.read(0)

    # -- internals -----------------------------------------------------------------

    def _send_chunk(self, piece: memoryview) -> int:
        """Send what the socket takes now; after a reset, pretend all went (nothing more will)."""
        try:
            count = self.sock.send(piece)
        except BlockingIOError:
            return 0
        except (ConnectionResetError, BrokenPipeError):
            self._mark_reset()
            return len(piece)
        self.log.add(events.Sent, data=bytes(piece[:count]))
        return count

    def _receive_once(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self._mark_reset()
            return
        except OSError as error:
            if error.errno == errno.ETIMEDOUT:
                self._mark_reset()
                return
            raise
        if data:
            self.buffer += data
            self.log.add(events.Received, data=data)
            self.received += len(data)
            if self.received > RECEIVE_CAP:
                self.ended = "overflow"
                self.log.add(events.Note, text=f"the grader stopped reading after "
                                               f"{self.received} bytes (limit {RECEIVE_CAP})")
        else:
            self.ended = "eof"
            self.log.add(events.EndOfStream)

    def _mark_reset(self) -> None:
        if self.ended != "reset":
            self.ended = "reset"
            self.log.add(events.ResetReceived)

    def _wait(self, event: int, deadline: Deadline) -> bool:
        if self.sock.fileno() == -1:
            return False
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, event)
            return bool(selector.select(deadline.left()))


class PeerServer:
    """A listening socket on loopback for a student's client to connect to."""

    def __init__(self, log_name: str = "connection") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.log_name = log_name
        self.connections: list[PeerConnection] = []

    def accept(self, timeout: float) -> PeerConnection | None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        conn, _address = self.sock.accept()
        log = WireLog(name=f"{self.log_name} {len(self.connections) + 1}")
        log.add(events.Connected, local=conn.getsockname(), remote=conn.getpeername(),
                accepted=True)
        connection = PeerConnection(conn, log)
        self.connections.append(connection)
        return connection

    def close(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


def connect(port: int, timeout: float = 5.0, log_name: str = "connection",
            host: str = LOOPBACK, make_socket: Callable[[], socket.socket] | None = None
            ) -> PeerConnection | None:
    """Connect to the program; None if refused or nothing answered in time.

    ``make_socket`` makes the socket elsewhere, for example inside a network namespace.
    """
    sock = make_socket() if make_socket else socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except OSError:
        sock.close()
        return None
    log = WireLog(name=log_name)
    log.add(events.Connected, local=sock.getsockname(), remote=sock.getpeername(), accepted=False)
    return PeerConnection(sock, log)


def reset_seen(connection: PeerConnection) -> bool:
    """True once the program has reset the connection, also when the RST came after its FIN.

    After the program's FIN, ``recv`` only ever returns ``b''``, so an RST that follows (the
    program had closed its socket, then data from the grader reached it) shows only as the
    socket's pending error: ``EPIPE`` while the grader's side is in CLOSE_WAIT,
    ``ECONNRESET`` otherwise. Reading that error clears it, so the reset is kept in the log
    (``ResetReceived``) and in ``connection.ended``.
    """
    if connection.ended == "reset":
        return True
    if connection.sock.fileno() == -1:
        return False
    try:
        error = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError:
        return False
    if error in (errno.ECONNRESET, errno.EPIPE):
        connection._mark_reset()
        return True
    return False
