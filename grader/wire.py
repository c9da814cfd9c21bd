"""The wire view: a check's TCP connections, segment by segment, in the lesson's words.

From the frames a session captured (``grader.session.capture``) this module makes the
*ladder* of each connection: one row per segment that matters to the lesson (the
three-way handshake, data, each side's FIN, a reset, a zero window, keepalive probes),
with time since the check's first segment and sequence numbers relative to each side's
first. Ordinary acknowledgements are folded into the row before them, and a run of data
segments in one direction is one row (a 1 MiB echo is a few rows, not hundreds).

The ladder travels in the results document as plain data (``wire`` of a test, built by
``document``), so every report draws the same thing: the terminal and the feedback as
text (``render_text``), report.html as SVG, ``--pcap`` as a capture file that opens in
Wireshark (``grader.host.pcap``, from the frames kept in the document).

Rule: no I/O here, and packets are parsed with dpkt, never by hand.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field

import dpkt

PROGRAM, GRADER = "program", "grader"
MAX_CONNECTIONS = 8  # drawn per check: the first six and the last two
PREVIEW_BYTES = 24
SNAPLEN = 128  # bytes kept of each frame: its headers and the first bytes of its data

LABELS = {  # what a row means in the lesson, by who sent it: (English, Chinese)
    "syn": ("three-way handshake 1/3: SYN", "三次握手 1/3：SYN"),
    "synack": ("three-way handshake 2/3: SYN-ACK", "三次握手 2/3：SYN-ACK"),
    "handshake_ack": ("three-way handshake 3/3: ACK", "三次握手 3/3：ACK"),
    "fin_program": ("your FIN", "你的程序的 FIN"),
    "fin_grader": ("the grader's FIN", "评分程序的 FIN"),
    "fin_ack_program": ("ACK of the grader's FIN", "对评分程序 FIN 的 ACK"),
    "fin_ack_grader": ("ACK of your FIN", "对你的 FIN 的 ACK"),
    "rst_program": ("your RST: the connection is reset", "你的程序的 RST：连接被重置"),
    "rst_grader": ("the grader's RST: the connection is reset", "评分程序的 RST：连接被重置"),
    "refused": ("RST: nothing listens on that port (connection refused)",
                "RST：该端口上没有程序在监听（连接被拒绝）"),
    "zero_window": ("zero window: the receiver's buffer is full", "零窗口：接收方的缓冲区已满"),
    "window_open": ("the window opens again: the receiver has read", "窗口重新打开：接收方读取了数据"),
    "bulk": ("data, many segments drawn as one row", "数据：多个报文段合成一行"),
    "window_probe": ("probe of the zero window", "零窗口探测"),
    "probe": ("keepalive probe", "保活探测"),
    "probe_unanswered": ("keepalive probe, no answer", "保活探测，没有应答"),
    "probe_answer": ("answer to a keepalive probe", "对保活探测的应答"),
    "keepalive_gave_up": ("RST: no probe was answered, so the kernel gave the peer up",
                          "RST：探测都没有应答，内核放弃了对方"),
    "connected": ("connected: the two kernels made the three-way handshake (not seen here)",
                  "已连接：双方内核完成了三次握手（此处看不到）"),
}


@dataclass
class Segment:
    at: float  # seconds since the epoch
    source: tuple[str, int]
    destination: tuple[str, int]
    flags: int
    seq: int
    ack: int
    window: int
    payload: int  # length on the wire
    preview: bytes  # its first bytes, as captured


@dataclass
class Connection:
    program: tuple[str, int]
    grader: tuple[str, int]
    segments: list[Segment] = field(default_factory=list)


def tcp_layer(frame: bytes):
    """The IP packet and the TCP segment of a captured Ethernet frame (dpkt objects), or
    None if it holds no TCP."""
    try:
        packet = dpkt.ethernet.Ethernet(frame).data
    except (dpkt.UnpackError, ValueError):
        return None
    tcp = getattr(packet, "data", None)
    return (packet, tcp) if isinstance(tcp, dpkt.tcp.TCP) else None


def parse(frame: bytes, at: float, length: int) -> Segment | None:
    """The TCP segment in a captured Ethernet frame, or None if it holds none."""
    layers = tcp_layer(frame)
    if layers is None:
        return None
    packet, tcp = layers
    # The payload's length from the IP header: the frame kept only its first bytes.
    if isinstance(packet, dpkt.ip6.IP6):
        payload = packet.plen - tcp.off * 4
        source, destination = ipaddress.IPv6Address(packet.src), ipaddress.IPv6Address(packet.dst)
    else:
        payload = packet.len - packet.hl * 4 - tcp.off * 4
        source, destination = ipaddress.IPv4Address(packet.src), ipaddress.IPv4Address(packet.dst)
    return Segment(at, (str(source), tcp.sport), (str(destination), tcp.dport), tcp.flags,
                   tcp.seq, tcp.ack, tcp.win, max(0, payload), bytes(tcp.data))


def connections(segments: list[Segment], owners: dict[int, str | None]) -> list[Connection]:
    """Segments grouped by connection, in the order their first segment came. ``owners``
    says whose each port is ("program" or "grader"; None: a port the check picked that no
    one may be listening on, which counts as the grader's); the other end of a connection
    is the other side's."""
    found: dict[frozenset, Connection] = {}
    for segment in segments:
        key = frozenset((segment.source, segment.destination))
        if key not in found:
            ends = _ends(segment, owners)
            if ends is None:
                continue
            found[key] = Connection(*ends)
        found[key].segments.append(segment)
    return list(found.values())


def _ends(segment: Segment, owners: dict[int, str | None]):
    pairs = ((segment.source, segment.destination), (segment.destination, segment.source))
    for wanted in (PROGRAM, GRADER, None):
        for end, other in pairs:
            if end[1] in owners and owners[end[1]] == wanted:
                return (end, other) if wanted == PROGRAM else (other, end)
    return None


# -- rows ------------------------------------------------------------------------------

@dataclass
class _Side:
    isn: int | None = None
    next_seq: int | None = None
    window: int | None = None  # the last window this side advertised


def rows(connection: Connection, start: float) -> list[dict]:
    """The ladder of one connection, as the rows the document keeps."""
    sides = {PROGRAM: _Side(), GRADER: _Side()}
    out: list[dict] = []
    fin_from: set[str] = set()
    for segment in connection.segments:
        sender = PROGRAM if segment.source == connection.program else GRADER
        other = GRADER if sender == PROGRAM else PROGRAM
        mine, theirs = sides[sender], sides[other]
        if segment.flags & dpkt.tcp.TH_SYN:
            mine.isn, mine.next_seq = segment.seq, segment.seq + 1
        label = _label(segment, sender, mine, theirs, out, fin_from)
        row = _row(segment, start, sender, mine, theirs, label)
        _advance(mine, segment)
        mine.window = segment.window
        if label is None and out and _folds_into(out[-1], row):
            _fold(out[-1], row)
            continue
        out.append(row)
    _mark_unanswered_probes(out)
    return _summarise_bulk(out)


BULK_ROWS = 6  # a longer run of plain data rows (both ways: an echo) becomes one per side


def _summarise_bulk(out: list[dict]) -> list[dict]:
    summarised: list[dict] = []
    run: list[dict] = []
    for row in out + [None]:
        if row is not None and row["label"] is None and row["len"]:
            run.append(row)
            continue
        if len(run) > BULK_ROWS:
            summarised.extend(_per_side(run))
        else:
            summarised.extend(run)
        run = []
        if row is not None:
            summarised.append(row)
    return summarised


def _per_side(run: list[dict]) -> list[dict]:
    """A run of data rows as one row per side that sent: its totals, its first bytes."""
    sides = []
    for side in dict.fromkeys(row["from"] for row in run):
        mine = [row for row in run if row["from"] == side]
        sides.append(dict(mine[0], label="bulk", len=sum(row["len"] for row in mine),
                          segments=sum(row["segments"] for row in mine),
                          acks=sum(row.get("acks", 0) for row in mine),
                          last_t=mine[-1].get("last_t", mine[-1]["t"])))
    return sides


def _label(segment: Segment, sender: str, mine: _Side, theirs: _Side, out: list[dict],
           fin_from: set[str]) -> str | None:
    flags = segment.flags
    if flags & dpkt.tcp.TH_RST:
        if not any(row["from"] == sender for row in out) and out and out[-1]["label"] == "syn":
            return "refused"
        if out and out[-1]["label"] == "probe" and out[-1]["from"] == sender:
            return "keepalive_gave_up"
        return f"rst_{sender}"
    if flags & dpkt.tcp.TH_SYN:
        return "synack" if flags & dpkt.tcp.TH_ACK else "syn"
    if flags & dpkt.tcp.TH_FIN:
        fin_from.add(sender)
        return f"fin_{sender}"
    if segment.window == 0 and mine.window != 0:
        return "zero_window"
    if segment.window and mine.window == 0 and not segment.payload:
        return "window_open"
    if segment.payload <= 1 and mine.next_seq is not None and \
            _relative_gap(segment.seq, mine.next_seq) == -1:
        # Linux sends both probes the same way (one byte before the next); a probe of a
        # peer that advertised a zero window is the zero-window kind.
        return "window_probe" if theirs.window == 0 else "probe"
    if segment.payload == 0:
        if out and out[-1]["label"] == "synack" and out[-1]["from"] != sender:
            return "handshake_ack"
        if out and out[-1]["label"] == f"fin_{_other(sender)}":
            return f"fin_ack_{sender}"
        if out and out[-1]["label"] in ("probe", "probe_unanswered") \
                and out[-1]["from"] != sender:
            return "probe_answer"
    return None


def _other(side: str) -> str:
    return GRADER if side == PROGRAM else PROGRAM


def _relative_gap(seq: int, expected: int) -> int:
    return ((seq - expected + (1 << 31)) % (1 << 32)) - (1 << 31)


def _advance(side: _Side, segment: Segment) -> None:
    if side.next_seq is None:
        side.isn = side.next_seq = segment.seq
    end = segment.seq + segment.payload + (1 if segment.flags & dpkt.tcp.TH_FIN else 0)
    if _relative_gap(end, side.next_seq) > 0:
        side.next_seq = end % (1 << 32)


def _row(segment: Segment, start: float, sender: str, mine: _Side, theirs: _Side,
         label: str | None) -> dict:
    return {
        "t": round(segment.at - start, 6),
        "from": sender,
        "flags": _flag_names(segment.flags),
        "seq": _relative(segment.seq, mine.isn),
        "ack": _relative(segment.ack, theirs.isn) if segment.flags & dpkt.tcp.TH_ACK else None,
        "win": segment.window,
        "len": segment.payload,
        "data": segment.preview[:PREVIEW_BYTES].decode("latin-1") if segment.payload else "",
        "segments": 1,
        "label": label,
    }


def _relative(number: int, isn: int | None) -> int:
    return number if isn is None else (number - isn) % (1 << 32)


def _flag_names(flags: int) -> str:
    names = [name for bit, name in ((dpkt.tcp.TH_SYN, "SYN"), (dpkt.tcp.TH_FIN, "FIN"),
                                    (dpkt.tcp.TH_RST, "RST"), (dpkt.tcp.TH_PUSH, "PSH"),
                                    (dpkt.tcp.TH_ACK, "ACK")) if flags & bit]
    return ",".join(names)


def _folds_into(previous: dict, row: dict) -> bool:
    """An ordinary segment joins the row before it: a bare ACK always (its count is kept),
    data when the row before is data from the same side."""
    if row["len"] == 0:
        return previous["label"] not in ("probe", "probe_unanswered")
    return previous["label"] is None and previous["from"] == row["from"] and previous["len"]


def _fold(previous: dict, row: dict) -> None:
    if row["len"] == 0:
        previous["acks"] = previous.get("acks", 0) + 1
        return
    previous["segments"] += 1
    previous["len"] += row["len"]
    previous["last_t"] = row["t"]


def _mark_unanswered_probes(out: list[dict]) -> None:
    for index, row in enumerate(out):
        if row["label"] != "probe":
            continue
        answered = any(later["from"] != row["from"] for later in out[index + 1:index + 2])
        if not answered:
            row["label"] = "probe_unanswered"


# -- the document ----------------------------------------------------------------------

def document(frames: list, owners: dict[int, str], left_out: int,
             states: list[tuple] = ()) -> dict:
    """The ``wire`` entry of a test: its connections' ladders, and the frames they came
    from (base64), so that a capture file can be written from the document alone."""
    segments = [(frame, parse(frame.data, frame.at, frame.length)) for frame in frames]
    segments = [(frame, segment) for frame, segment in segments if segment is not None]
    found = connections([segment for _frame, segment in segments], owners)
    start = segments[0][1].at if segments else 0.0
    drawn = found if len(found) <= MAX_CONNECTIONS else \
        found[:MAX_CONNECTIONS - 2] + found[-2:]
    return {
        "source": "capture",
        "start": start,
        "connections": [_connection_entry(connection, start, states) for connection in drawn],
        "connections_left_out": len(found) - len(drawn),
        "left_out": left_out,
        "frames": [[frame.at, frame.length, base64.b64encode(frame.data).decode("ascii")]
                   for frame, _segment in segments],
    }


ENDINGS = {  # how a connection stood when the verdict was given, from its FINs and RSTs
    "close_wait": ("the grader sent its FIN and your program sent none: the program's side "
                   "stays in CLOSE_WAIT until it calls close()",
                   "评分程序发送了 FIN，你的程序没有：程序一侧停在 CLOSE_WAIT，直到它调用 close()"),
    "program_first": ("your program closed first, so its side waits in TIME_WAIT",
                      "你的程序先关闭，所以它一侧进入 TIME_WAIT"),
    "grader_first": ("the grader closed first, so TIME_WAIT is on the grader's side",
                     "评分程序先关闭，所以 TIME_WAIT 在评分程序一侧"),
    "half_closed": ("your program sent its FIN and the grader had not closed yet: a "
                    "half-closed connection", "你的程序发送了 FIN，评分程序尚未关闭：半关闭的连接"),
    "refused": ("no connection was made: the SYN was answered with a reset",
                "连接没有建立：SYN 得到的回应是重置"),
    "reset": ("the connection ended with a reset, not the four-way close",
              "连接以重置结束，而不是四次挥手"),
    "open": ("no FIN yet on either side: the connection was open when the verdict was given",
             "双方都还没有 FIN：给出结论时连接仍然打开"),
}


def ending(rows_of_connection: list[dict]) -> str:
    """Which of ``ENDINGS`` a connection's rows show."""
    labels = [row["label"] for row in rows_of_connection]
    if "refused" in labels:
        return "refused"
    if any(label in ("rst_program", "rst_grader", "keepalive_gave_up") for label in labels):
        return "reset"
    fins = [label for label in labels if label in ("fin_program", "fin_grader")]
    if not fins:
        return "open"
    if fins[0] == "fin_program":
        return "program_first" if "fin_grader" in fins else "half_closed"
    return "grader_first" if "fin_program" in fins else "close_wait"


SHOWN_STATES = ("CLOSE_WAIT", "TIME_WAIT", "FIN_WAIT2", "LAST_ACK", "CLOSING")  # not the brief FIN_WAIT1


def _connection_entry(connection: Connection, start: float, states=()) -> dict:
    ladder = rows(connection, start)
    return {"program": _end_text(connection.program), "grader": _end_text(connection.grader),
            "rows": ladder, "ending": ending(ladder),
            "kernel": _kernel_states(connection, start, states)}


def _kernel_states(connection: Connection, start: float, states) -> list[dict]:
    """The closing states the checks' reads of the socket table showed for this connection,
    on either end, with when they were first and last seen."""
    seen = []
    ends = {(connection.program, connection.grader): PROGRAM,
            (connection.grader, connection.program): GRADER}
    for local, remote, state, first, last in states:
        side = ends.get((_plain(local), _plain(remote)))
        if side and state in SHOWN_STATES:
            seen.append({"side": side, "state": state, "from": round(first - start, 3),
                         "to": round(last - start, 3)})
    return sorted(seen, key=lambda entry: entry["from"])


def _plain(end: tuple[str, int]) -> tuple[str, int]:
    host, port = end
    mapped = host.removeprefix("::ffff:")
    return (mapped if mapped != host and "." in mapped else host, port)


def not_captured(why: str) -> dict:
    """The ``wire`` entry of a test whose packets could not be captured, and why."""
    return {"source": "log", "why": why, "connections": []}


MAX_LOG_ROWS = 60  # a ladder drawn from the log: the first 40 rows and the last 20


def from_log(why: str, logged: list[dict], states: list[tuple] = ()) -> dict:
    """The ``wire`` entry of a check whose packets could not be captured, and why: each
    connection's ladder built from what the grader's own sockets did and saw instead, with
    the states the socket table showed. ``logged``: one dict per connection, its ends
    ``program`` and ``grader`` and its ``rows``, each row's ``t`` in seconds since the epoch
    (``grader.session.events.ladder``). It says that it is not a capture."""
    logged = [connection for connection in logged if connection["rows"]]
    if not logged:
        return not_captured(why)
    start = min(row["t"] for connection in logged for row in connection["rows"])
    drawn = logged if len(logged) <= MAX_CONNECTIONS else \
        logged[:MAX_CONNECTIONS - 2] + logged[-2:]
    entries = []
    for connection in drawn:
        ends = Connection(_plain(tuple(connection["program"])),
                          _plain(tuple(connection["grader"])))
        rows = _summarise_bulk([_shifted(row, start) for row in connection["rows"]])
        if len(rows) > MAX_LOG_ROWS:  # summarised first: a long echo's totals stay whole
            rows = rows[:40] + rows[-20:]
        entries.append({"program": _end_text(ends.program), "grader": _end_text(ends.grader),
                        "rows": rows, "ending": ending(rows),
                        "kernel": _kernel_states(ends, start, states)})
    return {"source": "log", "why": why, "start": start, "connections": entries,
            "connections_left_out": len(logged) - len(drawn), "left_out": 0}


def _shifted(row: dict, start: float) -> dict:
    shifted = dict(row, t=round(row["t"] - start, 3))
    if "last_t" in row:
        shifted["last_t"] = round(row["last_t"] - start, 3)
    return shifted


def _end_text(end: tuple[str, int]) -> str:
    host, port = end
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- text ------------------------------------------------------------------------------

ARROW_FROM_PROGRAM = "program ------------> grader"
ARROW_FROM_GRADER = "program <------------ grader"


def render_text(wire: dict | None, lang: str = "en") -> str:
    """The ladders of a ``wire`` entry as plain text (for a pipe, a CI log, the feedback)."""
    if not wire:
        return ""
    zh = lang == "zh"
    captured = wire.get("source") == "capture"
    if not captured and not wire.get("connections"):
        return (f"线路视图：无法在此抓包（{wire.get('why', '')}）；上面是评分程序自己套接字的记录。"
                if zh else f"wire view: no packet capture here ({wire.get('why', '')}); the log "
                "above is what the grader's own sockets saw.")
    if not wire["connections"]:
        return "线路视图：没有捕获到这一项的 TCP 报文段。" if zh else \
            "wire view: no TCP segment of this check was captured."
    parts = []
    where = source_text(wire, zh)
    for number, connection in enumerate(wire["connections"], 1):
        title = (f"线路视图，连接 {number}：你的程序 {connection['program']}，评分程序 "
                 f"{connection['grader']}（{where}）" if zh else
                 f"wire view, connection {number}: your program {connection['program']}, "
                 f"the grader {connection['grader']} ({where})")
        parts.append(title)
        parts.extend(_text_row(row, zh) for row in connection["rows"])
        if connection.get("ending") in ENDINGS:
            parts.append("  => " + ENDINGS[connection["ending"]][1 if zh else 0])
        parts.extend("  " + kernel_text(entry, zh) for entry in connection.get("kernel", []))
    if wire.get("connections_left_out"):
        parts.append(f"（另有 {wire['connections_left_out']} 个连接未画出）" if zh else
                     f"({wire['connections_left_out']} more connections not drawn)")
    if wire.get("left_out"):
        parts.append(f"（中间还有 {wire['left_out']} 个报文段未保留）" if zh else
                     f"({wire['left_out']} segments in the middle were not kept)")
    return "\n".join(parts)


def source_text(wire: dict, zh: bool) -> str:
    """Where a view's rows come from: a capture, or (said plainly) the grader's own log."""
    if wire.get("source") == "capture":
        return "在 lo 上抓包" if zh else "captured on lo"
    why = wire.get("why", "")
    return (f"不是抓包：根据评分程序自己的套接字调用和内核套接字表画出；{why}" if zh else
            f"not a capture: drawn from the grader's own socket calls and the kernel's socket "
            f"table; {why}")


def kernel_text(entry: dict, zh: bool) -> str:
    """One closing state the socket table showed, as a sentence."""
    whose = ("你的程序" if entry["side"] == PROGRAM else "评分程序") if zh else \
        ("your program's" if entry["side"] == PROGRAM else "the grader's")
    span = entry["to"] - entry["from"]
    if zh:
        return (f"内核：{whose}套接字处于 {entry['state']}（{entry['from']:.3f}s 起，"
                f"至少 {span:.1f} 秒）")
    return (f"kernel: {whose} socket in {entry['state']} from {entry['from']:.3f}s "
            f"(seen for {span:.1f} s)")


def _text_row(row: dict, zh: bool) -> str:
    arrow = ARROW_FROM_PROGRAM if row["from"] == PROGRAM else ARROW_FROM_GRADER
    what = describe(row)
    label = label_text(row, zh)
    return f"  {row['t']:8.3f}s  {arrow}  {what}" + (f"   <- {label}" if label else "")


def describe(row: dict) -> str:
    """The segment's numbers: flags, relative seq/ack, window, data summary (a row of a
    view drawn from the grader's log has only what the socket call saw)."""
    if "call" in row:
        return _call_text(row)
    parts = [row["flags"] or "-", f"seq={row['seq']}"]
    if row["ack"] is not None:
        parts.append(f"ack={row['ack']}")
    parts.append(f"win={row['win']}")
    if row["len"]:
        pieces = f" in {row['segments']} segments" if row["segments"] > 1 else ""
        parts.append(f"{row['len']} bytes{pieces} {_quote(row['data'])}")
    if row.get("last_t") is not None and row.get("last_t") != row["t"]:
        parts.append(f"until {row['last_t']:.3f}s")
    if row.get("acks"):
        parts.append(f"(+{row['acks']} ACK)")
    return " ".join(parts)


def _call_text(row: dict) -> str:
    """A row of a view drawn from the grader's log: the socket call, and its data."""
    if not row["len"]:
        return row["call"]
    calls = f" in {row['segments']} calls" if row["segments"] > 1 else ""
    text = f"{row['call']} {row['len']} bytes{calls} {_quote(row['data'])}"
    if row.get("last_t") is not None and row["last_t"] != row["t"]:
        text += f" until {row['last_t']:.3f}s"
    return text


def label_text(row: dict, zh: bool) -> str:
    label = row.get("label")
    return LABELS[label][1 if zh else 0] if label in LABELS else ""


def _quote(text: str) -> str:
    """The first bytes of data as the student wrote them: UTF-8 text where it is text (a
    character cut at the end is dropped), escapes where it is not."""
    raw = text.encode("latin-1")
    try:
        shown = repr(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        cut_at_end = error.start >= len(raw) - 3 and error.reason == "unexpected end of data"
        shown = repr(raw[:error.start].decode("utf-8")) if cut_at_end else repr(raw)[1:]
    return shown if len(raw) < PREVIEW_BYTES else shown[:-1] + "..." + shown[-1]


def frames_of(wire: dict) -> list[tuple[float, int, bytes]]:
    """The captured frames kept in a ``wire`` entry: (time, length on the wire, bytes)."""
    return [(at, length, base64.b64decode(data)) for at, length, data in wire.get("frames", [])]
