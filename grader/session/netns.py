"""A network of the grader's own where packets can be dropped: for a client that vanishes.

Why: a client whose machine loses power sends nothing more, not even a reset. Only TCP
keepalive can find it. A stopped or sleeping process does not simulate this (its kernel
still answers the probes); only dropped packets do. Dropping packets needs a network
where the grader may change the rules, and never the machine's own.

How, without root (``IsolatedNetwork``): an agent process is started in a new user and
network namespace (``unshare -rn``); it brings that namespace's loopback up and stays as
its anchor. The student's program is started inside it with ``nsenter``; the grader's
peer sockets are made inside it by the agent and passed back over a Unix socket
(``SCM_RIGHTS``), since a socket keeps the namespace it was made in. The agent adds the
nftables rule that drops the vanished client's packets. The kernel's table of that
namespace is ``/proc/AGENT/net/tcp``.

Inside the grading container (``ContainerNetwork``) the container is already such a
network: it has no interface but its own loopback, and the grader may add the rule there.

Where neither can be had (another OS, a kernel without unprivileged user namespaces, no
``nft``), ``open_network`` raises ``NetworkUnavailable`` and the check is reported as not
run, never as passed or failed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys


class NetworkUnavailable(Exception):
    """No network of our own can be made here; the message says why."""


def drop_rules(port: int, table: str = "grader") -> str:
    """nftables rules that drop every packet to or from ``port``: that peer goes silent."""
    return (f"table inet {table} {{\n"
            f"  chain input {{\n"
            f"    type filter hook input priority 0; policy accept;\n"
            f"    tcp sport {port} drop\n"
            f"    tcp dport {port} drop\n"
            f"  }}\n"
            f"}}\n")


class ContainerNetwork:
    """The grading container's own network namespace (the docker runner sets GRADER_NETNS).

    Checks run side by side and share this namespace, so each network has an nftables
    table of its own: closing one never lifts another check's drop."""

    namespace_pid = None

    def __init__(self) -> None:
        self.table = f"grader_{os.getpid()}_{id(self):x}"

    def launcher(self) -> list[str]:
        return []

    def socket(self) -> socket.socket:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def drop(self, port: int) -> None:
        _run_nft(drop_rules(port, self.table))

    def close(self) -> None:
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True,
                       timeout=10, check=False)


class IsolatedNetwork:
    """A user + network namespace held open by an agent process (no root needed)."""

    def __init__(self) -> None:
        if not shutil.which("unshare") or not shutil.which("nsenter"):
            raise NetworkUnavailable("the unshare and nsenter commands (util-linux) are missing")
        if not shutil.which("nft"):
            raise NetworkUnavailable("the nft command (nftables) is missing")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.channel = ours
        self.agent = subprocess.Popen(
            ["unshare", "-rn", sys.executable, "-I", "-m", "grader.session.netns", "agent"],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=dict(os.environ, GRADER_AGENT_FD=str(theirs.fileno())))
        theirs.close()
        self.channel.settimeout(10)
        try:
            ready = self.channel.recv(256)
        except OSError:
            ready = b""
        if ready != b"ready":
            if self.agent.poll() is None:
                self.agent.kill()
            # Read what the agent said before close() closes the pipe it said it on.
            error = self.agent.stderr.read().decode("utf-8", "replace").strip() if \
                self.agent.stderr else ""
            self.close()
            raise NetworkUnavailable(f"cannot make a user and network namespace "
                                     f"(unshare -rn): {error or ready.decode(errors='replace')}")
        self.namespace_pid = self.agent.pid

    def launcher(self) -> list[str]:
        """The command prefix that starts a program inside the namespace."""
        return ["nsenter", "-t", str(self.agent.pid), "-U", "-n", "--preserve-credentials", "--"]

    def socket(self) -> socket.socket:
        """A TCP socket made inside the namespace (it keeps its namespace when passed)."""
        self.channel.sendall(b"socket")
        _message, fds, _flags, _address = socket.recv_fds(self.channel, 16, 1)
        if not fds:
            raise NetworkUnavailable("the namespace agent did not pass a socket")
        return socket.socket(fileno=fds[0])

    def packet_socket(self) -> socket.socket | None:
        """A packet socket on the namespace's loopback, for the wire view (None if the
        agent could not make one)."""
        self.channel.sendall(b"capture")
        _message, fds, _flags, _address = socket.recv_fds(self.channel, 256, 1)
        return socket.socket(fileno=fds[0]) if fds else None

    def drop(self, port: int) -> None:
        self.channel.sendall(b"drop " + str(port).encode())
        answer = self.channel.recv(4096)
        if answer != b"ok":
            raise NetworkUnavailable(answer.decode("utf-8", "replace"))

    def close(self) -> None:
        self.channel.close()
        if self.agent.poll() is None:
            self.agent.kill()
        self.agent.wait()
        if self.agent.stderr:
            self.agent.stderr.close()


def open_network():
    """The network for a check that drops packets, or NetworkUnavailable."""
    if os.environ.get("GRADER_NETNS") == "container":
        if not shutil.which("nft"):
            raise NetworkUnavailable("the nft command (nftables) is missing in the image")
        return ContainerNetwork()
    return IsolatedNetwork()


def _run_nft(rules: str) -> None:
    result = subprocess.run(["nft", "-f", "-"], input=rules.encode(), capture_output=True,
                            timeout=10, check=False)
    if result.returncode != 0:
        raise NetworkUnavailable("nft refused the rule: "
                                 + result.stderr.decode("utf-8", "replace").strip())


# -- the agent, running inside the namespace ----------------------------------------------

def _loopback_up() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True,
                   timeout=10) if shutil.which("ip") else loopback_up_ioctl()


def loopback_up_ioctl() -> None:
    """Bring ``lo`` up with an ioctl (CAP_NET_ADMIN over this namespace, no program run)."""
    import fcntl
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(probe, siocgifflags, request))[1]
        fcntl.ioctl(probe, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def agent() -> int:
    channel = socket.socket(fileno=int(os.environ["GRADER_AGENT_FD"]))
    try:
        _loopback_up()
    except Exception as error:  # report any failure to the grader, which reports "not run"
        channel.sendall(f"cannot bring loopback up: {error}".encode())
        return 1
    channel.sendall(b"ready")
    while True:
        request = channel.recv(256)
        if not request:
            return 0
        if request == b"socket":
            made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socket.send_fds(channel, [b"fd"], [made.fileno()])
            made.close()
        elif request == b"capture":
            _pass_packet_socket(channel)
        elif request.startswith(b"drop "):
            try:
                _run_nft(drop_rules(int(request.split()[1])))
                channel.sendall(b"ok")
            except (NetworkUnavailable, OSError, ValueError) as error:
                channel.sendall(str(error).encode())


def _pass_packet_socket(channel: socket.socket) -> None:
    # Root of its own user namespace, the agent has CAP_NET_RAW over the network it owns.
    try:
        made = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        made.bind(("lo", 0))
    except (OSError, AttributeError) as error:
        channel.sendall(f"no packet socket: {error}".encode())
        return
    socket.send_fds(channel, [b"fd"], [made.fileno()])
    made.close()


if __name__ == "__main__" and sys.argv[1:] == ["agent"]:
    sys.exit(agent())
