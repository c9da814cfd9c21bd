"""A kernel-side filter for a packet socket: only TCP segments to or from some ports.

Why: every check captures the loopback, and checks side by side (and the sessions of other
exercises on the same machine) share it, so without a filter each capture is handed every
segment of every check and throws most of them away in Python. With this classic BPF
program attached (``SO_ATTACH_FILTER``, what tcpdump does with an expression) the kernel
queues only the check's own segments: the others cost neither a copy nor a wake-up.

Why by hand: the program is a dozen instructions of a stable kernel interface
(``linux/filter.h``); compiling a filter expression would need libpcap (tcpdump's
``-dd``), a C library and a binary the session cannot count on.

The filter only narrows what ``capture`` already keeps (it still checks every frame's
ports): where it cannot be attached, the capture works as before, at the old cost.

Frames on ``lo`` are Ethernet frames (a zero header of 14 bytes), then IPv4 (with options,
hence the header length read from the packet) or IPv6 (the TCP header right after the
fixed header: loopback traffic between sockets carries no extension headers).
"""

from __future__ import annotations

import ctypes
import socket
import struct

SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27

# Instruction classes and modes of classic BPF (linux/filter.h, linux/bpf_common.h).
LD_H_ABS, LD_B_ABS, LD_H_IND = 0x28, 0x30, 0x48
LDX_B_MSH = 0xB1  # X = 4 * (packet[k] & 0xf): the IPv4 header's length
JEQ_K = 0x15
RET_K = 0x06

ETHERNET = 14
IPV4, IPV6 = 0x0800, 0x86DD
TCP = 6
KEEP_WHOLE = 0x40000  # a frame's bytes to queue: all of it (lo frames are up to 64 KiB)
# A jump of classic BPF reaches at most 255 instructions ahead: with more ports than this
# the program keeps every frame, and the capture filters in Python alone.
MOST_PORTS = 48

INSTRUCTION = struct.Struct("=HBBI")


def program(ports: set[int]) -> list[tuple[int, int, int, int]]:
    """The instructions (code, jump if true, jump if false, constant) that keep TCP
    segments with ``ports`` at either end (every frame, for more than ``MOST_PORTS``)."""
    if len(ports) > MOST_PORTS:
        return [(RET_K, 0, 0, KEEP_WHOLE)]
    wanted = sorted(ports)
    code: list[tuple] = [
        (LD_H_ABS, 0, 0, 12),
        (JEQ_K, "ipv4", 0, IPV4),
        (JEQ_K, "ipv6", "drop", IPV6),
        ("ipv4",), (LD_B_ABS, 0, 0, ETHERNET + 9),
        (JEQ_K, 0, "drop", TCP),
        (LDX_B_MSH, 0, 0, ETHERNET),
        (LD_H_IND, 0, 0, ETHERNET), *_any_of(wanted),
        (LD_H_IND, 0, 0, ETHERNET + 2), *_any_of(wanted),
        (RET_K, 0, 0, 0),
        ("ipv6",), (LD_B_ABS, 0, 0, ETHERNET + 6),
        (JEQ_K, 0, "drop", TCP),
        (LD_H_ABS, 0, 0, ETHERNET + 40), *_any_of(wanted),
        (LD_H_ABS, 0, 0, ETHERNET + 42), *_any_of(wanted),
        ("drop",), (RET_K, 0, 0, 0),
        ("keep",), (RET_K, 0, 0, KEEP_WHOLE),
    ]
    return _resolved(code)


def _any_of(ports: list[int]) -> list[tuple]:
    return [(JEQ_K, "keep", 0, port) for port in ports]


def _resolved(code: list[tuple]) -> list[tuple[int, int, int, int]]:
    """Labels (one-element tuples) turned into the relative jumps BPF takes."""
    labels, instructions = {}, []
    for item in code:
        if len(item) == 1:
            labels[item[0]] = len(instructions)
        else:
            instructions.append(item)

    def offset(target, at: int) -> int:
        return target if isinstance(target, int) else labels[target] - at - 1

    return [(op, offset(if_true, at), offset(if_false, at), constant)
            for at, (op, if_true, if_false, constant) in enumerate(instructions)]


def attach(sock: socket.socket, ports: set[int]) -> bool:
    """Attach (or replace) the filter on ``sock``. Where it cannot be, the socket is left
    with no filter at all (never one that would drop the new ports), and False."""
    instructions = program(ports)
    packed = b"".join(INSTRUCTION.pack(*instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(packed, len(packed))
    # struct sock_fprog: the number of instructions, then a pointer to them.
    fprog = struct.pack("HP", len(instructions), ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
        except OSError:
            pass  # none was attached
        return False
    return True
