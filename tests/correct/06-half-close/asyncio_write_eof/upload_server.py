import hashlib
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()


class Upload:
    def __init__(self, sock):
        self.sock = sock
        self.count = 0
        self.hash = hashlib.sha256()
        self.reply = None


def drop(up):
    sel.unregister(up.sock)
    up.sock.close()


def on_client(up, mask):
    try:
        if up.reply is None:
            data = up.sock.recv(65536)
            if data:
                up.count += len(data)
                up.hash.update(data)
                return
            up.reply = f"{up.count} {up.hash.hexdigest()}\n".encode()
            sel.modify(up.sock, selectors.EVENT_WRITE, up)
            return
        sent = up.sock.send(up.reply)
        up.reply = up.reply[sent:]
        if not up.reply:
            drop(up)
    except BlockingIOError:
        pass
    except OSError:
        print("a client reset its connection")
        drop(up)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen()
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    try:
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    try:
                        s, _ = ls.accept()
                    except BlockingIOError:
                        continue
                    s.setblocking(False)
                    sel.register(s, selectors.EVENT_READ, Upload(s))
                else:
                    on_client(key.data, mask)
    except KeyboardInterrupt:
        print("bye")
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()


main()
