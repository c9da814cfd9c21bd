"""TCP client (lesson 4.2): send one message, print the whole reply.

Asks for the server IP, the server port and a message, in that order.
The client does not bind a local port: the system picks a free one when
it connects (lesson 4.4, note 2).
"""

import socket
import sys


def main():
    server_ip = input("Server IP: ")
    port_text = input("Server port: ")
    try:
        server_port = int(port_text)
    except ValueError:
        print(f"Not a port number: {port_text!r}", file=sys.stderr)
        return 2

    # 1. Create the socket and connect (TCP needs a connection before
    #    any data can flow: lesson 4.4, note 4).
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.connect((server_ip, server_port))
    except OSError as error:  # ConnectionRefusedError, no route, bad IP...
        print(f"Could not connect to {server_ip}:{server_port}: {error}", file=sys.stderr)
        client.close()
        return 1

    message = input("Message: ")

    try:
        # 2. sendall() keeps calling send() until every byte is out.
        client.sendall(message.encode("utf-8"))

        # 3. TCP is a byte stream: the reply may arrive in several pieces.
        #    Keep reading until recv() returns b"" (the server closed).
        pieces = []
        while True:
            data = client.recv(4096)
            if not data:
                break
            pieces.append(data)
    except OSError as error:  # e.g. the server reset the connection
        print(f"Connection error: {error}", file=sys.stderr)
        return 1
    finally:
        # 4. Close our side too, so the socket does not stay in CLOSE_WAIT.
        client.close()

    # Decode only once all the bytes are here: a piece may end in the
    # middle of a multi-byte UTF-8 character.
    reply = b"".join(pieces).decode("utf-8", errors="replace")
    print("Reply:", reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
