# FAULT: a selectors loop that does not catch ConnectionResetError: one client's reset ends the whole server with a traceback.
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()
MAX_PENDING = 1 << 20   # stop reading a client whose echo it does not read back


class Client:
    def __init__(self, sock, addr):
        self.sock = sock
        self.addr = addr
        self.out = bytearray()
        self.eof = False


def close_client(c, why):
    sel.unregister(c.sock)
    c.sock.close()
    print(f"{c.addr[0]}:{c.addr[1]} disconnected ({why})")


def update_interest(c):
    events = 0
    if not c.eof and len(c.out) < MAX_PENDING:
        events |= selectors.EVENT_READ
    if c.out:
        events |= selectors.EVENT_WRITE
    sel.modify(c.sock, events, c)


def on_readable(c):
    try:
        data = c.sock.recv(65536)
    except BlockingIOError:
        return
    # BUG: ConnectionResetError is not caught here: it leaves the event loop.
    if not data:
        c.eof = True
        if not c.out:
            close_client(c, "closed")
            return
    c.out += data
    on_writable(c)


def on_writable(c):
    if c.out:
        try:
            sent = c.sock.send(c.out)
            del c.out[:sent]
        except BlockingIOError:
            pass
        except OSError as e:
            close_client(c, e.__class__.__name__)
            return
    if c.eof and not c.out:
        close_client(c, "closed")
        return
    update_interest(c)


def on_accept(listener):
    try:
        sock, addr = listener.accept()
    except (BlockingIOError, ConnectionError):
        return
    sock.setblocking(False)
    print(f"{addr[0]}:{addr[1]} connected")
    sel.register(sock, selectors.EVENT_READ, Client(sock, addr))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, None)
        print(f"listening on 127.0.0.1:{port}")
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    on_accept(key.fileobj)
                    continue
                c = key.data
                if mask & selectors.EVENT_READ:
                    on_readable(c)
                    if c.sock.fileno() == -1:
                        continue
                if mask & selectors.EVENT_WRITE:
                    on_writable(c)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
        listener.close()


if __name__ == "__main__":
    main()
