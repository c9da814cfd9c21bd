"""A Docker engine that can crash on cue: a forwarding socket in front of the real one.

A grader under test is pointed at the proxy (``DOCKER_HOST=unix://<path>``). ``crash()``
cuts every connection and removes the socket, which is what a grader sees when ``dockerd``
dies: calls in flight fail, new ones find no engine. The engine behind it keeps running,
so whatever the grader had started is still there afterwards, as after a real crash until
the engine's restart. ``start()`` again is the engine coming back.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

ENGINE_SOCKET = "/var/run/docker.sock"


class EngineProxy:
    def __init__(self, path: Path, engine_socket: str = ENGINE_SOCKET) -> None:
        self.path = path
        self.engine_socket = engine_socket
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> "EngineProxy":
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def crash(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        os.unlink(self.path)
        with self.lock:
            for connection in self.open:
                _cut(connection)
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # crashed
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(self.engine_socket)
            except OSError:
                _cut(client)
                continue
            with self.lock:
                if self.listener is not listener:  # crashed meanwhile
                    _cut(client)
                    _cut(engine)
                    return
                self.open |= {client, engine}
            for source, target in ((client, engine), (engine, client)):
                threading.Thread(target=_copy, args=(source, target), daemon=True).start()


def _copy(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # cut by crash(), or the other side went away


def _cut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()
