# Style: socketserver.TCPServer handling exactly one request, then exiting.
import signal
import socketserver
import sys


class ThankYouHandler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            data = self.request.recv(1024)
            if not data:
                print("client left without a message")
                return
            print("message:", data.decode("utf-8", "replace"))
            self.request.sendall("thank you !".encode("utf-8"))
        except ConnectionError as exc:
            print("connection problem:", exc)


class OneShotServer(socketserver.TCPServer):
    allow_reuse_address = True  # SO_REUSEADDR


def on_sigterm(signum, frame):
    raise SystemExit(0)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    with OneShotServer(("", port), ThankYouHandler) as server:
        try:
            server.handle_request()  # serve one client (shutdown + close after it)
        except KeyboardInterrupt:
            print("interrupted")


if __name__ == "__main__":
    main()
