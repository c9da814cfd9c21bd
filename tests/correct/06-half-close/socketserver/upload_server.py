"""Upload server on socketserver.TCPServer (one client after another)."""
import hashlib
import signal
import socketserver
import sys


class UploadHandler(socketserver.BaseRequestHandler):
    def handle(self):
        size, h = 0, hashlib.sha256()
        try:
            while chunk := self.request.recv(32768):
                size += len(chunk)
                h.update(chunk)
            self.request.sendall(f"{size} {h.hexdigest()}\n".encode())
        except OSError as exc:
            print(f"{self.client_address}: {exc}")
            return
        print(f"{self.client_address}: {size} bytes")
        # socketserver closes the connection after handle() returns


class Server(socketserver.TCPServer):
    allow_reuse_address = True


def stop(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    with Server(("", port), UploadHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    print("bye")
