"""Echo server (lesson 4.4). Fill in the TODOs, then run: python echo_server.py [port]"""

import signal
import socket
import sys


def stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM now behaves like Ctrl-C


def serve_client(client, address):
    # TODO: loop: recv(); when it returns b"" the client has closed (note 9):
    #       print a line containing "disconnected" and leave the loop;
    #       otherwise send every byte back with sendall().
    # TODO: a client may also reset the connection (ConnectionResetError):
    #       that must not stop the server.
    # TODO: close the client's socket in every case.
    pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # TODO: set SO_REUSEADDR, bind to ("", port) and listen().
    try:
        pass
        # TODO: forever: accept() a client and call serve_client(...).
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
