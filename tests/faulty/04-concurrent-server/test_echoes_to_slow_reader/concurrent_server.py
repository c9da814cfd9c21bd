import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()
clients = {}


class Client:
    def __init__(self, sock, addr):
        self.sock = sock
        self.addr = addr
        self.pending = b""
        self.closing = False

    def events(self):
        ev = 0 if self.closing else selectors.EVENT_READ
        if self.pending:
            ev |= selectors.EVENT_WRITE
        return ev

    def on_ready(self, mask):
        try:
            if mask & selectors.EVENT_READ:
                data = self.sock.recv(32768)
                if data:
                    try:
                        self.sock.send(data)   # BUG: partial send ignored
                    except BlockingIOError:
                        pass
                else:
                    self.closing = True
            if mask & selectors.EVENT_WRITE and self.pending:
                sent = self.sock.send(self.pending)
                self.pending = self.pending[sent:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.pending = b""
            self.closing = True
        ev = self.events()
        if ev:
            sel.modify(self.sock, ev, self.on_ready)
        else:
            self.finish()

    def finish(self):
        sel.unregister(self.sock)
        self.sock.close()
        del clients[self.sock]
        print("client", self.addr, "disconnected")


def accept(listener):
    def on_accept(mask):
        try:
            sock, addr = listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        c = Client(sock, addr)
        clients[sock] = c
        sel.register(sock, selectors.EVENT_READ, c.on_ready)
    return on_accept


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", port))
    listener.listen(128)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, accept(listener))
    try:
        while True:
            for key, mask in sel.select():
                key.data(mask)
    except KeyboardInterrupt:
        pass
    finally:
        for s in list(clients):
            s.close()
        listener.close()
        sel.close()


if __name__ == "__main__":
    main()
