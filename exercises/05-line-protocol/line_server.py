"""Exercise 05: a server for a line protocol.

Run:    python line_server.py [port]      (default port 7788)
Grade:  tox      (or: grader check 05-line-protocol exercises/05-line-protocol)

Requests and replies are UTF-8 lines ending in "\n":
    ECHO <text> -> <text>      UPPER <text> -> <TEXT>      ADD <a> <b> -> a+b
    QUIT -> BYE, then the server closes      anything else -> ERR ...
"""

import signal
import socket
import sys


def answer(line):
    """Return the reply (without "\n") to one request line (a str)."""
    # TODO: ECHO, UPPER, ADD (add the numbers, do not join the strings!), QUIT.
    return "ERR unknown command"


def serve_client(client_socket):
    """Serve one client until it closes or sends QUIT."""
    buffer = b""   # bytes received but not handled yet
    while True:
        data = client_socket.recv(4096)
        if not data:
            break  # the client closed (maybe in the middle of a line)
        buffer += data
        # TODO: one recv() is NOT one request. It may hold part of a line,
        #       many lines, or end inside a Chinese character. For every
        #       COMPLETE line in buffer (up to b"\n"): take it out of buffer,
        #       decode it, answer(line), send the reply + "\n".
        # TODO: after answering QUIT with BYE, return: the server closes first.


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    # TODO: make SIGTERM stop the server like Ctrl-C (SIGINT) does.

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"listening on port {port}")
        while True:
            client_socket, client_addr = tcp_server_socket.accept()
            # TODO: a ConnectionResetError must not stop the server.
            serve_client(client_socket)
            client_socket.close()
            # TODO: print a line containing "disconnected".
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
