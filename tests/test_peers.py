"""The grader's TCP peers on real loopback sockets: FIN versus RST, pieces, half-close."""

from __future__ import annotations

import socket
import struct
import threading

from grader.session import events, peers


def _echo_once(listener: socket.socket, finish: str) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.sendall(conn.recv(1024))
        if finish == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _serve(finish: str) -> tuple[socket.socket, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    thread = threading.Thread(target=_echo_once, args=(listener, finish))
    thread.start()
    return listener, thread


def test_end_of_stream_is_told_from_reset():
    for finish, ending, event in (("close", "eof", events.EndOfStream),
                                  ("reset", "reset", events.ResetReceived)):
        listener, thread = _serve(finish)
        connection = peers.connect(listener.getsockname()[1])
        connection.send(b"hello")
        reception = connection.read_until_closed(2.0)
        thread.join()
        listener.close()
        assert reception.data == b"hello" and reception.ending == ending
        assert connection.log.of_type(event)


def test_silence_ends_at_the_deadline():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        connection = peers.connect(listener.getsockname()[1])
        reception = connection.read(0.2)
        assert reception.ending == "timeout" and connection.log.of_type(events.Silence)


def test_peer_server_sees_pieces_and_half_close():
    server = peers.PeerServer()
    client = socket.create_connection(("127.0.0.1", server.port))
    connection = server.accept(1.0)
    client.sendall(b"one line\nrest")
    client.shutdown(socket.SHUT_WR)
    assert connection.read_line(1.0).data == b"one line\n"
    rest = connection.read_until_closed(1.0)
    assert rest.data == b"rest" and rest.ending == "eof"
    connection.send_pieces([b"a", b"b"], 0.05)
    connection.close()
    assert client.recv(10) + client.recv(10) in (b"ab", b"a")
    client.close()
    server.close()


def test_exchange_moves_a_mebibyte_without_deadlock():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def echo() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=echo)
    thread.start()
    connection = peers.connect(listener.getsockname()[1])
    data = bytes(range(256)) * 4096
    reply = connection.exchange(data, expect=len(data), timeout=10.0)
    connection.close()
    thread.join()
    listener.close()
    assert reply.data == data


def test_wire_log_escapes_what_it_shows():
    log = events.WireLog()
    log.add(events.Received, data=b"\x1b[31mred<script>")
    text = log.render()
    assert "\x1b" not in text and "\\x1b" in text


def _flood(listener: socket.socket, stop: threading.Event) -> None:
    conn, _ = listener.accept()
    with conn:
        block = b"x" * 65536
        try:
            while not stop.is_set():
                conn.sendall(block)
        except OSError:
            pass  # the grader closed the connection


def test_a_flooding_program_is_cut_off_at_the_cap():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stop = threading.Event()
        thread = threading.Thread(target=_flood, args=(listener, stop))
        thread.start()
        connection = peers.connect(listener.getsockname()[1])
        reception = connection.read(30.0, until=lambda buffer: b"\n" in buffer)
        stop.set()
        connection.close()
        thread.join()
    assert reception.ending == "overflow" and not reception.closed
    assert peers.RECEIVE_CAP < len(reception.data) <= peers.RECEIVE_CAP + peers.RECV_SIZE
    assert any("stopped reading" in note.text for note in connection.log.of_type(events.Note))
