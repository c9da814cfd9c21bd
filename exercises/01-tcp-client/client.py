"""TCP client (lesson 4.2). Fill in the TODOs, then run: python client.py"""

import socket
import sys


def main():
    server_ip = input("Server IP: ")
    server_port = int(input("Server port: "))

    # TODO: create a TCP socket (AF_INET, SOCK_STREAM).
    # TODO: connect to (server_ip, server_port). If the connection is
    #       refused, print a clear message and return a non-zero status.

    message = input("Message: ")

    # TODO: send every byte of the message, encoded as UTF-8.
    # TODO: read the reply until the server closes the connection
    #       (recv returns b""): it may come in several pieces.
    # TODO: close the socket, then decode and print the whole reply.

    return 0


if __name__ == "__main__":
    sys.exit(main())
