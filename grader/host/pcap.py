"""Capture files of a graded submission: one ``.pcap`` per check, from its results document.

The session keeps each check's frames in the document (``grader.wire``), so the host can
write them wherever the user asked (``grader check --pcap DIR``, each student's folder of
a batch) without a second channel from the session. Each frame was kept to its first
bytes: its record says so (captured length below the length on the wire), and Wireshark
shows it as "packet size limited during capture", as it does for tcpdump's ``-s``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import dpkt

from .. import wire

RECORD_HEADER = dpkt.pcap.LEPktHdr if sys.byteorder == "little" else dpkt.pcap.PktHdr


def write_check(path: Path, frames: list[tuple[float, int, bytes]]) -> None:
    """A pcap file of ``frames`` (time, length on the wire, the bytes kept)."""
    with open(path, "wb") as out:
        dpkt.pcap.Writer(out, snaplen=wire.SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for at, length, data in frames:
            seconds = int(at)
            record = RECORD_HEADER(tv_sec=seconds, tv_usec=int(round((at - seconds) * 1e6)),
                                   caplen=len(data), len=max(length, len(data)))
            out.write(bytes(record) + data)


def write_all(document: dict, folder: Path) -> list[Path]:
    """One file per check that has captured frames, named by its number and id."""
    written = []
    for test in document.get("tests", []):
        frames = wire.frames_of(test.get("wire") or {})
        if not frames:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{int(test.get('number', 0)):02d}-"
                      f"{test.get('check', 'check')}.pcap")
        write_check(folder / name, frames)
        written.append(folder / name)
    return written
