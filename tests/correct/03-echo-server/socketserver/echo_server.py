# Style: socketserver.TCPServer (one client at a time) with serve_forever().
import signal
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while data := self.request.recv(8192):
                self.request.sendall(data)
            print(f"{self.client_address} disconnected")
        except ConnectionError:
            print(f"{self.client_address} disconnected abruptly")
        # socketserver closes the request socket after handle() returns


class EchoServer(socketserver.TCPServer):
    allow_reuse_address = True


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # -> KeyboardInterrupt
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    with EchoServer(("", port), EchoHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("shutting down")


if __name__ == "__main__":
    main()
