"""Time server: send every client the current UTC time as one line, then close.

Usage: python time_server.py [port]    (default port 7788)

For each client: accept(), send "YYYY-MM-DD HH:MM:SS\n" (UTC) at once, without
waiting for a request, and close the client's socket. Runs until stopped with
Ctrl-C (SIGINT) or SIGTERM.
"""

import signal
import socket
import sys
import time


def stop(signum, frame):
    # Make SIGTERM behave like Ctrl-C: raise KeyboardInterrupt wherever the
    # program is (usually waiting in accept()).
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # The server closes first, so each connection's TIME_WAIT is on the
    # server's side, on its port (lesson 4.5): without SO_REUSEADDR a restart
    # could not bind it for a minute.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Time server listening on port {port}")
        while True:
            client, address = server.accept()
            with client:  # close() sends our FIN: the client knows the line is all
                now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
                try:
                    client.sendall(f"{now}\n".encode("ascii"))
                except ConnectionError:  # the client left before the line went out
                    pass
            print(f"{address[0]}:{address[1]} got {now}")
    except KeyboardInterrupt:
        print("Server stopped")
    except OSError as error:  # e.g. the port is used by another program
        print(f"Error: {error}", file=sys.stderr)
        return 1
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
