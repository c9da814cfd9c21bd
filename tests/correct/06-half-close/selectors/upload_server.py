"""Upload server with selectors: several uploads may run at the same time."""
import hashlib
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()


class Upload:
    def __init__(self, conn, addr):
        self.conn, self.addr = conn, addr
        self.count = 0
        self.sha = hashlib.sha256()


def accept(listener):
    conn, addr = listener.accept()
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, Upload(conn, addr))


def finish(up, error=None):
    sel.unregister(up.conn)
    if error is None:
        line = f"{up.count} {up.sha.hexdigest()}\n".encode()
        try:
            up.conn.setblocking(True)     # the reply is tiny; just send it
            up.conn.settimeout(5)
            up.conn.sendall(line)
            print(up.addr, "->", line.decode().strip())
        except OSError as exc:
            error = exc
    if error is not None:
        print(up.addr, "failed:", error)
    up.conn.close()


def read(up):
    try:
        data = up.conn.recv(65536)
    except BlockingIOError:
        return
    except OSError as exc:
        finish(up, exc)
        return
    if not data:          # end of stream: the upload is complete
        finish(up)
        return
    up.count += len(data)
    up.sha.update(data)


def main():
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen()
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    try:
        while True:
            for key, _ in sel.select():
                if key.data is None:
                    accept(key.fileobj)
                else:
                    read(key.data)
    except KeyboardInterrupt:
        pass
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


if __name__ == "__main__":
    main()
