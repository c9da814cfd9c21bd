"""Keepalive echo server with selectors (all clients in one thread).

A connection that the keepalive probes find dead becomes readable, and
recv() then raises TimeoutError (ETIMEDOUT).
"""
import errno
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()


class Client:
    def __init__(self, conn, addr):
        self.conn, self.addr = conn, addr
        self.outbox = b""     # bytes received but not yet echoed


def on_accept(listener):
    conn, addr = listener.accept()
    conn.setblocking(False)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    sel.register(conn, selectors.EVENT_READ, Client(conn, addr))


def close(client, why):
    print(client.addr, why)
    sel.unregister(client.conn)
    client.conn.close()


def on_ready(client, mask):
    try:
        if mask & selectors.EVENT_READ:
            data = client.conn.recv(65536)
            if not data:
                close(client, "disconnected")
                return
            client.outbox += data
        if client.outbox:
            sent = client.conn.send(client.outbox)
            client.outbox = client.outbox[sent:]
    except BlockingIOError:
        pass
    except OSError as exc:
        if exc.errno == errno.ETIMEDOUT:
            close(client, "timed out: keepalive got no answer")
        else:
            close(client, f"disconnected by error: {exc}")
        return
    # also wait for writability while something is left to send
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbox else 0)
    sel.modify(client.conn, events, client)


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # SIGTERM -> KeyboardInterrupt
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", port))
    listener.listen(64)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ)
    try:
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    on_accept(key.fileobj)
                else:
                    on_ready(key.data, mask)
    except KeyboardInterrupt:
        pass
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


if __name__ == "__main__":
    main()
