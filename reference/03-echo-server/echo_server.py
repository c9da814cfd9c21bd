"""Echo server (lesson 4.4, notes 5 to 9): serve clients one after another.

Usage: python echo_server.py [port]    (default port 7788)

For each client: send back every byte it sends, until it closes; then print a
"disconnected" line, close that client's socket and accept the next client.
Runs until stopped with Ctrl-C (SIGINT) or SIGTERM.
"""

import signal
import socket
import sys


def stop(signum, frame):
    # Make SIGTERM behave like Ctrl-C: raise KeyboardInterrupt wherever the
    # program is (in accept() or in recv() with a client connected).
    raise KeyboardInterrupt


def serve_client(client, address):
    """Echo until the client leaves, then close its socket."""
    name = f"{address[0]}:{address[1]}"
    print(f"{name} connected")
    try:
        while True:
            data = client.recv(4096)
            if not data:
                # recv() returns b"" once the client has closed (note 9).
                # Stop reading: looping on b"" again would spin forever.
                print(f"{name} disconnected")
                break
            # sendall() sends every byte; send() may send only a part.
            client.sendall(data)
    except ConnectionError as error:
        # The client reset the connection (RST) or vanished while we sent.
        print(f"{name} disconnected ({error.strerror})")
    finally:
        # Closing the accepted socket ends the service of this client
        # (note 8) and frees its file descriptor: no CLOSE_WAIT left behind.
        client.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Restarting at once must work even while old connections sit in TIME_WAIT.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Echo server listening on port {port}")
        while True:
            # Each accept() returns a new socket for one client (notes 5, 6);
            # the listening socket keeps waiting for the next ones.
            client, address = server.accept()
            serve_client(client, address)
    except KeyboardInterrupt:
        print("Server stopped")
    except OSError as error:  # e.g. the port is used by another program
        print(f"Error: {error}", file=sys.stderr)
        return 1
    finally:
        server.close()  # frees the port (note 7)
    return 0


if __name__ == "__main__":
    sys.exit(main())
