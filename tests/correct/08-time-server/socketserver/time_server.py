"""Time server with socketserver: the handler writes the line, the server closes."""

import signal
import socketserver
import sys
import time


class TimeHandler(socketserver.StreamRequestHandler):
    def handle(self):
        # After handle() returns, the server shuts the connection down (FIN).
        self.wfile.write(time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime()).encode())


class Server(socketserver.TCPServer):
    allow_reuse_address = True  # SO_REUSEADDR before bind


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, interrupt)
    with Server(("", port), TimeHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
