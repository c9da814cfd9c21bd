"""TCP server (lesson 4.3). Fill in the TODOs, then run: python server.py [port]"""

import socket
import sys


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # TODO: set SO_REUSEADDR, so that a second run can bind the port at once.
    # TODO: bind to ("", port) and listen().

    # TODO: accept one client.
    # TODO: receive one message (recv(1024)); if it is b"" the client left
    #       without sending anything: do not crash.
    # TODO: print the message (decoded as UTF-8) and reply "thank you !".
    # TODO: close the client's socket, then the listening socket.

    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
