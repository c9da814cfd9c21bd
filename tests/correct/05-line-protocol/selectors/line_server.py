# selectors style: one thread, non-blocking sockets, input and output buffers per client.
import selectors
import signal
import socket
import sys


def reply_to(line):
    cmd, _, arg = line.partition(" ")
    if cmd == "ECHO":
        return arg
    if cmd == "UPPER":
        return arg.upper()
    if cmd == "ADD":
        try:
            a, b = arg.split()
            return str(int(a) + int(b))
        except ValueError:
            return "ERR ADD takes two integers"
    if cmd == "QUIT":
        return "BYE"
    return "ERR unknown command"


class Conn:
    def __init__(self, sock, addr):
        self.sock, self.addr = sock, addr
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.quitting = False     # QUIT seen: close once outbuf is sent


class LineServer:
    def __init__(self, port):
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("", port))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ)

    def drop(self, c, why):
        self.sel.unregister(c.sock)
        c.sock.close()
        print(f"{c.addr[0]}:{c.addr[1]} disconnected ({why})")

    def accept(self):
        try:
            sock, addr = self.listener.accept()
        except (BlockingIOError, ConnectionError):
            return
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ, Conn(sock, addr))

    def read(self, c):
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            return self.drop(c, e.__class__.__name__)
        if not data:
            return self.drop(c, "closed")
        c.inbuf += data
        while not c.quitting:
            pos = c.inbuf.find(b"\n")
            if pos < 0:
                break
            line = bytes(c.inbuf[:pos]).decode("utf-8", "replace").rstrip("\r")
            del c.inbuf[:pos + 1]
            c.outbuf += (reply_to(line) + "\n").encode("utf-8")
            c.quitting = line == "QUIT"
        self.write(c)

    def write(self, c):
        try:
            while c.outbuf:
                sent = c.sock.send(c.outbuf)
                del c.outbuf[:sent]
        except BlockingIOError:
            pass
        except OSError as e:
            return self.drop(c, e.__class__.__name__)
        if c.quitting and not c.outbuf:
            return self.drop(c, "QUIT")
        events = selectors.EVENT_WRITE if c.outbuf else 0
        if not c.quitting:
            events |= selectors.EVENT_READ
        self.sel.modify(c.sock, events, c)

    def run(self):
        while True:
            for key, mask in self.sel.select():
                if key.data is None:
                    self.accept()
                elif mask & selectors.EVENT_READ:
                    self.read(key.data)
                elif mask & selectors.EVENT_WRITE:
                    self.write(key.data)

    def close(self):
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    server = LineServer(port)
    print(f"listening on port {port}")
    try:
        server.run()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.close()


if __name__ == "__main__":
    main()
