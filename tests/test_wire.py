"""The wire view on real connections: what the capture saw, in the lesson's words.

- a correct client's connection opens with the three-way handshake and ends with the
  four-way close; a client or a server that leaks CLOSE_WAIT is shown the grader's FIN and
  none of its own, under its verdict, and how long the kernel held its socket;
- a close with SO_LINGER 0 is a reset; a receiver that stops reading advertises a zero
  window; a keepalive server's vanished client gets probes that nobody answers;
- a 1 MiB echo is a few rows, not hundreds, and a check keeps a bounded number of frames;
- the ``.pcap`` files ``--pcap`` writes are read back by tshark, an independent reader,
  with the same segments and flags as the ladder was made from.

The capture needs a packet socket: root, or a namespace of the session's own. CI runs as
root; elsewhere the capture-dependent tests are skipped, and say why. Without a capture
the view is drawn from the grader's own log, and says so (tested with the capture off).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cases import TOP
from grader import wire
from grader.session import capture
from grader.session.waiting import wait_until


def needs_capture() -> None:
    opened = capture.start()
    if isinstance(opened, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no packet capture here: {opened}")
        pytest.skip(opened)
    opened.close()


def grade(exercise: str, submission: Path, tmp_path: Path, *extra: str,
          env: dict | None = None) -> dict:
    out = tmp_path / f"{exercise}.json"
    result = subprocess.run([sys.executable, "-m", "grader", "check", exercise,
                             str(submission), "--json", str(out), *extra], cwd=TOP,
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, **(env or {})))
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def entry_of(document: dict, check: str) -> dict:
    return next(test for test in document["tests"] if test["check"] == check)


def labels(connection: dict) -> list[str]:
    return [row["label"] for row in connection["rows"] if row["label"]]


@pytest.fixture(scope="module")
def client_document(tmp_path_factory) -> tuple[dict, Path]:
    needs_capture()
    work = tmp_path_factory.mktemp("client")
    document = grade("01-tcp-client", TOP / "reference" / "01-tcp-client", work,
                     "--pcap", str(work / "pcap"))
    return document, work / "pcap"


def test_a_correct_client_opens_with_the_handshake_and_ends_with_the_four_way_close(
        client_document):
    document, _folder = client_document
    entry = entry_of(document, "test_closes_after_server_closes")["wire"]
    assert entry["source"] == "capture"
    [connection] = entry["connections"]
    seen = labels(connection)
    assert seen[:3] == ["syn", "synack", "handshake_ack"], seen
    assert [row["from"] for row in connection["rows"][:3]] == ["program", "grader", "program"]
    assert {"fin_program", "fin_grader"} <= set(seen), seen
    assert set(seen[-3:]) & {"fin_ack_program", "fin_ack_grader"}, seen
    assert connection["ending"] in ("grader_first", "program_first")
    assert "three-way handshake 1/3" in wire.render_text(entry)


def test_a_refused_connection_is_a_syn_answered_by_a_reset(client_document):
    document, _folder = client_document
    [connection] = entry_of(document, "test_connection_refused")["wire"]["connections"]
    assert labels(connection) == ["syn", "refused"]
    assert connection["ending"] == "refused"


def test_a_close_wait_leak_shows_the_graders_fin_and_none_of_the_programs(tmp_path):
    needs_capture()
    document = grade("03-echo-server", TOP / "tests" / "faulty" / "03-echo-server" /
                     "test_no_close_wait", tmp_path)
    test = entry_of(document, "test_no_close_wait")
    assert test["status"] == "failed"
    [connection] = test["wire"]["connections"]
    assert "fin_grader" in labels(connection) and "fin_program" not in labels(connection)
    assert connection["ending"] == "close_wait"
    # under the verdict, in the feedback the student reads
    assert test["output"].index("CLOSE_WAIT") < test["output"].index("wire view")
    assert "the grader's FIN" in test["output"] and "stays in CLOSE_WAIT" in test["output"]


def test_a_client_that_never_closes_is_shown_its_missing_fin_and_the_close_wait(tmp_path):
    needs_capture()
    document = grade("01-tcp-client", TOP / "tests" / "faulty" / "01-tcp-client" /
                     "test_closes_after_server_closes", tmp_path)
    test = entry_of(document, "test_closes_after_server_closes")
    assert test["status"] == "failed"
    [connection] = test["wire"]["connections"]
    assert connection["ending"] == "close_wait"
    held = [entry for entry in connection["kernel"]
            if entry["side"] == "program" and entry["state"] == "CLOSE_WAIT"]
    assert held and held[0]["to"] > held[0]["from"], connection["kernel"]
    assert "kernel: your program's socket in CLOSE_WAIT" in test["output"]


def test_without_a_capture_the_view_is_drawn_from_the_graders_log_and_says_so(tmp_path):
    """Where no packet can be captured, the ladder comes from the grader's own socket calls
    and the socket table: the same lesson (the grader's FIN, none of the program's, the
    CLOSE_WAIT it left), plainly not a capture; a 1 MiB echo is still a few rows."""
    off = {capture.OFF_SWITCH: "1"}
    document = grade("01-tcp-client", TOP / "tests" / "faulty" / "01-tcp-client" /
                     "test_closes_after_server_closes", tmp_path, env=off)
    test = entry_of(document, "test_closes_after_server_closes")
    assert test["status"] == "failed"
    assert test["wire"]["source"] == "log" and "frames" not in test["wire"]
    [connection] = test["wire"]["connections"]
    seen = labels(connection)
    assert seen[0] == "connected" and "fin_grader" in seen and "fin_program" not in seen, seen
    assert connection["ending"] == "close_wait"
    assert any(entry["side"] == "program" and entry["state"] == "CLOSE_WAIT"
               for entry in connection["kernel"]), connection["kernel"]
    assert "(not a capture: drawn from the grader's own socket calls" in test["output"]
    assert "kernel: your program's socket in CLOSE_WAIT" in test["output"]
    echo = grade("03-echo-server", TOP / "reference" / "03-echo-server", tmp_path, env=off)
    [connection] = entry_of(echo, "test_echoes_one_mebibyte")["wire"]["connections"]
    assert sum(row["len"] for row in connection["rows"] if row["from"] == "grader") \
        >= 1 << 20
    assert len(connection["rows"]) < 40, len(connection["rows"])


def test_a_reply_after_the_graders_half_close_follows_its_fin(tmp_path):
    """06's lesson on the wire: the grader's client shuts down its sending side (its FIN),
    and the server's reply still comes after it, then the server's own FIN. Drawn from the
    check that waits for that last FIN (the ladder stops at the verdict: the check of the
    reply alone may end before the server's FIN is sent)."""
    needs_capture()
    document = grade("06-half-close", TOP / "reference" / "06-half-close", tmp_path, "--wire")
    test = entry_of(document, "test_server_closes_after_reply")
    assert test["status"] == "passed", test["output"]
    [connection] = test["wire"]["connections"]
    rows = connection["rows"]
    grader_fin = next(at for at, row in enumerate(rows) if row["label"] == "fin_grader")
    replies = [at for at, row in enumerate(rows) if row["from"] == "program" and row["len"]]
    program_fin = next(at for at, row in enumerate(rows) if row["label"] == "fin_program")
    assert replies and grader_fin < replies[0] < program_fin, \
        [(row["from"], row["label"], row["len"]) for row in rows]


def test_a_large_echo_is_summarised_and_a_check_keeps_a_bounded_capture(tmp_path):
    needs_capture()
    document = grade("03-echo-server", TOP / "reference" / "03-echo-server", tmp_path)
    entry = entry_of(document, "test_echoes_one_mebibyte")["wire"]
    [connection] = entry["connections"]
    sent = sum(row["len"] for row in connection["rows"] if row["from"] == "grader")
    if entry["left_out"]:
        # under load the echo's segments come smaller, more than a check keeps: the frames
        # between the first and the last ones kept are left out, and the view says so
        assert 0 < sent < 1 << 20
        assert f"({entry['left_out']} segments in the middle were not kept)" in \
            wire.render_text(entry)
    else:
        assert sent >= 1 << 20
    # a few rows, not one per segment: on a quiet machine 5; under load the windows that
    # close and open again break the data into more runs, each still one row per side
    assert len(connection["rows"]) < 60, len(connection["rows"])
    for test in document["tests"]:
        if test.get("wire", {}).get("source") == "capture":
            assert len(test["wire"]["frames"]) <= capture.MAX_FRAMES
            assert len(test["wire"]["connections"]) <= wire.MAX_CONNECTIONS


def test_a_vanished_client_gets_keepalive_probes_nobody_answers(tmp_path):
    needs_capture()
    document = grade("07-keepalive", TOP / "reference" / "07-keepalive", tmp_path)
    test = entry_of(document, "test_detects_vanished_client")
    assert test["status"] == "passed", test["output"]
    [connection] = test["wire"]["connections"]
    seen = labels(connection)
    assert seen.count("probe_unanswered") >= 2, seen
    assert seen[-1] == "keepalive_gave_up", seen
    probes = [row for row in connection["rows"] if row["label"] == "probe_unanswered"]
    assert all(row["from"] == "program" for row in probes)


# -- on the test's own sockets, through the session's capture ---------------------------

@pytest.fixture
def live_capture():
    needs_capture()
    capture.begin()
    yield capture
    capture.end()


def listening_socket(receive_buffer: int | None = None) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def observed_when(live_capture, found, timeout: float = 5.0) -> dict:
    """The check's wire entry once ``found(entry)`` holds (the capture thread may lag)."""
    def ready() -> dict | None:
        entry = live_capture.observed(set())
        return entry if found(entry) else None

    entry = wait_until(ready, timeout)
    assert entry, live_capture.observed(set())
    return entry


def test_a_close_with_linger_zero_is_a_reset(live_capture):
    with listening_socket() as server:
        live_capture.watch(server.getsockname()[1], wire.PROGRAM)
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        accepted.close()
        entry = observed_when(live_capture, lambda e: e["connections"] and "rst_program" in
                              labels(e["connections"][0]))
        client.close()
    [connection] = entry["connections"]
    assert labels(connection)[:3] == ["syn", "synack", "handshake_ack"]
    assert connection["ending"] == "reset"
    assert "your RST" in wire.render_text(entry)


def test_a_receiver_that_stops_reading_advertises_a_zero_window(live_capture):
    with listening_socket(receive_buffer=4096) as server:
        live_capture.watch(server.getsockname()[1], wire.PROGRAM)
        sender = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()  # and never read
        sender.setblocking(False)
        try:
            while True:
                sender.send(b"x" * 65536)
        except BlockingIOError:
            pass
        entry = observed_when(live_capture, lambda e: e["connections"] and "zero_window" in
                              labels(e["connections"][0]))
        sender.close()
        accepted.close()
    zero = next(row for row in entry["connections"][0]["rows"] if row["label"] == "zero_window")
    assert zero["from"] == "program" and zero["win"] == 0


# -- the capture files ------------------------------------------------------------------

def tshark() -> str:
    found = shutil.which("tshark")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but tshark is not installed (.ci/run installs it)")
        pytest.skip("tshark is not installed (apt-get install tshark)")
    return found


def test_the_pcap_files_read_back_with_the_same_segments_and_flags(client_document):
    reader = tshark()
    document, folder = client_document
    files = sorted(folder.glob("*.pcap"))
    with_frames = [test for test in document["tests"] if test.get("wire", {}).get("frames")]
    assert len(files) == len(with_frames) > 0
    for path, test in zip(files, with_frames):
        assert path.name.endswith(f"-{test['check']}.pcap")
        result = subprocess.run([reader, "-r", str(path), "-T", "fields", "-e", "tcp.srcport",
                                 "-e", "tcp.dstport", "-e", "tcp.flags", "-e", "tcp.seq_raw"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        theirs = [tuple(int(field, 0) for field in line.split("\t"))
                  for line in result.stdout.splitlines()]
        ours = [(segment.source[1], segment.destination[1], segment.flags, segment.seq)
                for segment in (wire.parse(data, at, length)
                                for at, length, data in wire.frames_of(test["wire"]))]
        assert theirs == ours, path.name


def _frames_on_lo(sock, deadline: float = 1.0) -> list[tuple[int, int]]:
    """The (source, destination) ports of the TCP frames queued on a packet socket."""
    found, stop = [], time.monotonic() + deadline
    sock.settimeout(0.1)
    while time.monotonic() < stop:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if found:
                break
            continue
        layers = wire.tcp_layer(data)
        if layers is not None:
            found.append((layers[1].sport, layers[1].dport))
    return found


def _talk(family, host) -> int:
    with socket.socket(family) as server:
        server.bind((host, 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection((host, port)) as client:
            accepted, _ = server.accept()
            client.sendall(b"hello")
            accepted.recv(5)
            accepted.close()
        return port


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")])
def test_the_kernel_hands_a_capture_only_its_checks_segments(family, host):
    from grader.session import portfilter
    needs_capture()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(capture.ETH_P_ALL)) as sock:
        sock.bind(("lo", 0))
        with socket.socket(family) as reserved:  # the check's port, known before its SYN
            reserved.bind((host, 0))
            watched = reserved.getsockname()[1]
        assert portfilter.attach(sock, {watched})
        _frames_on_lo(sock, 0.2)  # what was queued before the filter
        other = _talk(family, host)
        with socket.socket(family) as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, watched))
            server.listen()
            with socket.create_connection((host, watched)) as client:
                server.accept()[0].close()
                client.sendall(b"x")
        frames = _frames_on_lo(sock)
    assert frames, "the watched connection's segments were not captured"
    assert all(watched in ports for ports in frames), (other, watched, frames)


def test_a_capture_with_more_ports_than_a_filter_holds_keeps_every_frame():
    from grader.session import portfilter
    needs_capture()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(capture.ETH_P_ALL)) as sock:
        sock.bind(("lo", 0))
        assert portfilter.attach(sock, set(range(1, portfilter.MOST_PORTS + 2)))
        port = _talk(socket.AF_INET, "127.0.0.1")
        assert any(port in ports for ports in _frames_on_lo(sock))
