"""The kernel's socket table, read for real on loopback."""

from __future__ import annotations

import socket

from grader.session import kernel
from grader.session.kernel import TcpState, TimerKind
from grader.session.waiting import wait_until

SAMPLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E61 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1
   1: 0100007F:1E61 0100007F:A2C4 08 00000000:00000001 02:0000012C 00000000  1000        0 4243 1
   2: 0100007F:A2C5 0100007F:1E61 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3
"""


def test_parse_decodes_addresses_states_and_timers():
    listen, close_wait, time_wait = kernel.parse_table(SAMPLE)
    assert listen.local == ("127.0.0.1", 7777) and listen.state is TcpState.LISTEN
    assert close_wait.state is TcpState.CLOSE_WAIT and close_wait.rx_queue == 1
    assert close_wait.timer is TimerKind.KEEPALIVE and close_wait.timer_seconds == 3.0
    assert time_wait.state is TcpState.TIME_WAIT and time_wait.inode == 0
    assert time_wait.remote == ("127.0.0.1", 7777)


def test_parse_ipv6_rows():
    text = ("header\n   0: 00000000000000000000000001000000:1F90 "
            "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
            "00000000  1000        0 99 1\n")
    (row,) = kernel.parse_table(text)
    assert row.local == ("::1", 8080) and row.state is TcpState.LISTEN


def test_listen_is_seen_without_connecting():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        assert not kernel.is_listening(server.getsockname()[1])
        server.listen()
        assert kernel.wait_for_listen(server.getsockname()[1], 1.0)


def test_close_wait_and_time_wait_are_observed():
    import os
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        accepted.close()  # the server closes first: the client sits in CLOSE_WAIT
        client_port = client.getsockname()[1]
        mine = wait_until(lambda: [row for row in kernel.sockets_of([os.getpid()])
                                   if row.local_port == client_port
                                   and row.state is TcpState.CLOSE_WAIT], 1.0)
        assert mine
        client.close()  # now the server's side goes through TIME_WAIT, owned by no process
        rows = wait_until(lambda: kernel.rows_on_port(server.getsockname()[1], TcpState.TIME_WAIT), 1.0)
        assert rows and rows[0].inode == 0


def _listeners_on(port, rows):
    return sorted((row.local, row.rx_queue, row.uid, row.inode) for row in rows
                  if row.local_port == port and row.state is TcpState.LISTEN)


def test_netlink_and_proc_show_the_same_listening_sockets():
    import pytest
    addresses = [(socket.AF_INET, "127.0.0.2"), (socket.AF_INET, "0.0.0.0"),
                 (socket.AF_INET6, "::1"), (socket.AF_INET6, "::")]
    servers = []
    try:
        for family, host in addresses:
            server = socket.socket(family)
            servers.append(server)
            server.bind((host, 0))
            server.listen()
        # A connection not yet accepted shows as the listener's rx_queue in both.
        waiting = socket.create_connection(servers[0].getsockname()[:2])
        servers.append(waiting)
        for server in servers[:len(addresses)]:
            port = server.getsockname()[1]
            from_netlink = _listeners_on(port, kernel.listening_rows())
            from_proc = _listeners_on(port, kernel.read_table())
            assert from_netlink and from_netlink == from_proc
        first_port = servers[0].getsockname()[1]
        assert wait_until(
            lambda: _listeners_on(first_port, kernel.listening_rows())[0][1] == 1, 1.0)
    finally:
        for server in servers:
            server.close()
    if not kernel._NETLINK_WORKS:
        pytest.fail("netlink sock_diag was refused on this machine: the test compared "
                    "/proc with itself")


def test_refused_netlink_falls_back_to_proc(monkeypatch):
    from grader.session import sockdiag

    def refused():
        raise PermissionError(13, "refused")
    monkeypatch.setattr(sockdiag, "listening", refused)
    monkeypatch.setattr(kernel, "_NETLINK_WORKS", True)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert kernel.is_listening(server.getsockname()[1])
    assert not kernel._NETLINK_WORKS  # asked once, then /proc only


def _time_wait_on(host: str, family: int) -> int:
    """A port of this host whose only socket is in TIME_WAIT (the server closed first)."""
    with socket.socket(family) as server:
        server.bind((host, 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection((host, port))
        accepted, _ = server.accept()
        accepted.close()
        client.close()
    assert wait_until(lambda: kernel.rows_on_port(port, TcpState.TIME_WAIT), 1.0)
    return port


def test_a_port_any_socket_holds_is_never_given_to_a_check():
    from grader.session import ports
    held = socket.socket(socket.AF_INET6)
    held.bind(("::1", 0))
    held.listen()
    try:
        taken = {_time_wait_on("127.0.0.1", socket.AF_INET),
                 _time_wait_on("::1", socket.AF_INET6), held.getsockname()[1]}
        assert not any(ports._bindable(port) for port in taken)
        with socket.socket() as probe:  # and a port nobody holds is given
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        assert ports._bindable(free)
    finally:
        held.close()
