"""TCP server (lesson 4.3): serve one client, then exit.

Usage: python server.py [port]    (default port 7788)

Accepts one client, receives one message, prints it, replies "thank you !",
closes the client's socket, closes the listening socket and exits 0.
"""

import signal
import socket
import sys


def stop(signum, frame):
    # Make SIGTERM behave like Ctrl-C (SIGINT): raise KeyboardInterrupt,
    # so that the same `except` closes the sockets and exits 0.
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    # A server must bind a known port (lesson 4.4, note 1). SO_REUSEADDR lets a
    # new run bind it at once, even while the connection of the previous run
    # still sits in TIME_WAIT.
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        # listen() turns the socket into a passive one that accepts
        # connections (note 3).
        server.listen(128)
        print(f"Listening on port {port}")

        # accept() gives a NEW socket for this one client (notes 5 and 6).
        client, address = server.accept()
        with client:  # closes the client's socket at the end (note 8)
            data = client.recv(1024)
            if not data:
                # The client closed without sending anything (note 9).
                print(f"{address[0]}:{address[1]} disconnected without sending anything")
            else:
                print(f"Received from {address[0]}:{address[1]}:",
                      data.decode("utf-8", errors="replace"))
                client.sendall("thank you !".encode("utf-8"))
    except KeyboardInterrupt:
        print("Stopped")
    except ConnectionError as error:  # e.g. the client reset the connection
        print(f"Connection error: {error}")
    except OSError as error:  # e.g. the port is used by another program
        print(f"Error: {error}", file=sys.stderr)
        return 1
    finally:
        server.close()  # closing the listening socket frees the port (note 7)
    return 0


if __name__ == "__main__":
    sys.exit(main())
