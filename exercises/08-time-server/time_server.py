"""Time server (lesson 4.3). Fill in the TODOs, then run: python time_server.py [port]"""

import signal
import socket
import sys
import time


def stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM now behaves like Ctrl-C


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # TODO: set SO_REUSEADDR, then bind to ("", port) and listen().
    try:
        pass
        # TODO: forever: accept() a client, send it the current UTC time as one
        #       line, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + "\n",
        #       encoded as UTF-8, then close the client's socket.
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
