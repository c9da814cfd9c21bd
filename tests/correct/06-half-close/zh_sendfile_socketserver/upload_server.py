import hashlib
import signal
import socketserver
import sys


class Upload(socketserver.BaseRequestHandler):
    def handle(self):
        h = hashlib.sha256()
        n = 0
        try:
            while chunk := self.request.recv(8192):
                n += len(chunk)
                h.update(chunk)
            self.request.sendall(("%d %s\n" % (n, h.hexdigest())).encode())
        except ConnectionError:
            print("客户端连接被重置", file=sys.stderr)


class Server(socketserver.TCPServer):
    allow_reuse_address = True


def term(*_):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, term)
    srv = Server(("", int(sys.argv[1]) if len(sys.argv) > 1 else 7788), Upload)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
