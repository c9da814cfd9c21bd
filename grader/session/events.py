"""Observations on the wire, as small immutable records, and the log that keeps them.

Rule: this module does no I/O. Peers append events; checks judge them; feedback prints
them as a numbered wire log (directions, sizes and delays), the way Autobahn|Testsuite
keeps a log beside each verdict. Keeping the record apart from the sockets that made it
is what lets the judging code be read and tested on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

PREVIEW_BYTES = 60


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the log began

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Connected(Event):
    local: tuple[str, int]
    remote: tuple[str, int]
    accepted: bool  # True: the program connected to the grader; False: the grader connected

    def describe(self) -> str:
        if self.accepted:
            return f"program connected from port {self.remote[1]} to grader port {self.local[1]}"
        return f"grader connected from port {self.local[1]} to program port {self.remote[1]}"


@dataclass(frozen=True)
class Sent(Event):
    data: bytes

    def describe(self) -> str:
        return f"grader -> program  {len(self.data)} bytes  {preview(self.data)}"


@dataclass(frozen=True)
class Received(Event):
    data: bytes

    def describe(self) -> str:
        return f"program -> grader  {len(self.data)} bytes  {preview(self.data)}"


@dataclass(frozen=True)
class EndOfStream(Event):
    """The program's FIN: ``recv`` returned ``b''``."""

    def describe(self) -> str:
        return "program -> grader  FIN (end of stream: the program closed or shut down its side)"


@dataclass(frozen=True)
class ResetReceived(Event):
    """The program's RST: ``recv``/``send`` raised ``ConnectionResetError``."""

    def describe(self) -> str:
        return "program -> grader  RST (the connection was reset, not closed)"


@dataclass(frozen=True)
class HalfClosed(Event):
    def describe(self) -> str:
        return "grader -> program  FIN (grader shut down its sending side)"


@dataclass(frozen=True)
class Closed(Event):
    def describe(self) -> str:
        return "grader closed the connection"


@dataclass(frozen=True)
class ResetSent(Event):
    def describe(self) -> str:
        return "grader -> program  RST (grader reset the connection on purpose)"


@dataclass(frozen=True)
class Silence(Event):
    waited: float

    def describe(self) -> str:
        return f"nothing from the program for {self.waited:.1f} s"


@dataclass(frozen=True)
class Note(Event):
    """Something the grader did that is not on the wire (dropping packets, a signal)."""

    text: str

    def describe(self) -> str:
        return self.text


def preview(data: bytes) -> str:
    """A short, escaped view of some bytes, safe to print in any report (``repr`` escapes
    control characters such as ANSI escapes; Chinese text stays readable)."""
    shown = data[:PREVIEW_BYTES]
    more = f" ... (+{len(data) - len(shown)} bytes)" if len(data) > len(shown) else ""
    return repr(shown.decode("utf-8", errors="backslashreplace")) + more


@dataclass
class WireLog:
    """Events of one connection (or one check), in order, with times from ``start``."""

    name: str = "connection"
    start: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.start

    def add(self, event_type: type[Event], **fields) -> Event:
        event = event_type(at=self.now(), **fields)
        self.events.append(event)
        return event

    def of_type(self, event_type: type[Event]) -> list[Event]:
        return [event for event in self.events if isinstance(event, event_type)]

    def received_bytes(self) -> bytes:
        return b"".join(event.data for event in self.of_type(Received))

    def render(self, limit: int = 40) -> str:
        lines = [f"{self.name}:"]
        shown = self.events if len(self.events) <= limit else (
            self.events[: limit // 2] + self.events[-limit // 2:])
        for number, event in enumerate(shown, 1):
            lines.append(f"  {number:>3}  +{event.at:7.3f}s  {event.describe()}")
        if len(shown) < len(self.events):
            lines.insert(limit // 2 + 1, f"  ...  ({len(self.events) - len(shown)} events left out)")
        return "\n".join(lines)


# -- the wire view without a capture ------------------------------------------------------

LADDER_PREVIEW = 24  # bytes of data kept per row, as a capture keeps them (grader.wire)


def ladder(log: WireLog) -> dict | None:
    """The connection of ``log`` as the wire view draws it when no packet could be captured
    (``grader.wire.from_log``): its two ends and one row per socket call that put something
    on the wire or saw something arrive (``call``); calls with data the same way in a row
    are one row. None for a log with no connection. Times are on the epoch clock, as the
    socket table's reads are."""
    connected = next((event for event in log.events if isinstance(event, Connected)), None)
    if connected is None:
        return None
    epoch = time.time() - (time.monotonic() - log.start)
    rows: list[dict] = []
    grader_fin = False  # a close() after shutdown(SHUT_WR) sends no second FIN
    for event in log.events:
        row = _ladder_row(event, connected.accepted, grader_fin)
        if row is None:
            continue
        grader_fin = grader_fin or row["label"] == "fin_grader"
        row["t"] = epoch + event.at
        if rows and rows[-1]["len"] and row["len"] and rows[-1]["from"] == row["from"]:
            rows[-1]["len"] += row["len"]
            rows[-1]["segments"] += 1
            rows[-1]["last_t"] = row["t"]
        else:
            rows.append(row)
    return {"program": connected.remote, "grader": connected.local, "rows": rows}


def _ladder_row(event: Event, accepted: bool, grader_fin: bool) -> dict | None:
    """What one logged event puts on the ladder: who sent it, by which call, and the
    lesson's label (the names of ``grader.wire.LABELS``)."""
    if isinstance(event, Connected):
        return _row("program" if accepted else "grader", "connect() returned", "connected")
    if isinstance(event, Sent):
        return _row("grader", "sendall()", None, event.data)
    if isinstance(event, Received):
        return _row("program", "recv()", None, event.data)
    if isinstance(event, EndOfStream):
        return _row("program", "FIN: recv() returned b''", "fin_program")
    if isinstance(event, ResetReceived):
        return _row("program", "RST: ConnectionResetError", "rst_program")
    if isinstance(event, HalfClosed):
        return _row("grader", "FIN: shutdown(SHUT_WR)", "fin_grader")
    if isinstance(event, Closed):
        return _row("grader", "close()", None if grader_fin else "fin_grader")
    if isinstance(event, ResetSent):
        return _row("grader", "RST: close() with SO_LINGER 0", "rst_grader")
    return None  # silences and notes are the grader's, not the wire's


def _row(side: str, call: str, label: str | None, data: bytes = b"") -> dict:
    return {"from": side, "call": call, "label": label, "len": len(data),
            "data": data[:LADDER_PREVIEW].decode("latin-1"), "segments": 1}
