# Style: one thread, non-blocking sockets and a selector (several clients at once).
import selectors
import signal
import socket
import sys

MAX_PENDING = 1 << 20  # stop reading from a client that does not read its echo


class Client:
    def __init__(self, sock, addr):
        self.sock, self.addr = sock, addr
        self.pending = bytearray()
        self.eof = False


def wanted_events(c):
    events = 0
    if not c.eof and len(c.pending) < MAX_PENDING:
        events |= selectors.EVENT_READ
    if c.pending:
        events |= selectors.EVENT_WRITE
    return events


def drop(sel, c, why):
    print(f"{c.addr} disconnected{why}")
    sel.unregister(c.sock)
    c.sock.close()


def on_client(sel, c, mask):
    try:
        if mask & selectors.EVENT_READ:
            data = c.sock.recv(65536)
            if data:
                c.pending += data
            else:
                c.eof = True
        if mask & selectors.EVENT_WRITE and c.pending:
            sent = c.sock.send(c.pending)
            del c.pending[:sent]
    except BlockingIOError:
        pass
    except ConnectionError as exc:
        drop(sel, c, f" ({exc.strerror})")
        return
    if c.eof and not c.pending:
        drop(sel, c, "")
        return
    events = wanted_events(c)
    if events:
        sel.modify(c.sock, events, c)


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    sel = selectors.DefaultSelector()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("0.0.0.0", port))
        listener.listen()
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, None)
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    try:
                        sock, addr = listener.accept()
                    except BlockingIOError:
                        continue
                    sock.setblocking(False)
                    print(f"{addr} connected")
                    sel.register(sock, selectors.EVENT_READ, Client(sock, addr))
                else:
                    on_client(sel, key.data, mask)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
        listener.close()


if __name__ == "__main__":
    main()
