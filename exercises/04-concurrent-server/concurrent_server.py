"""Exercise 04: a concurrent echo server.

Run:    python concurrent_server.py [port]      (default port 7788)
Grade:  tox      (or: grader check 04-concurrent-server exercises/04-concurrent-server)

This skeleton uses one thread per client. selectors, socketserver or asyncio
are fine too: replace it all if you prefer.
"""

import signal
import socket
import sys
import threading


def handle_client(client_socket, client_addr):
    """Serve one client in its own thread."""
    # TODO: loop: recv() data; if it is b'' the client has closed: stop looping;
    #       otherwise send ALL of it back (sendall).
    # TODO: a ConnectionResetError concerns this client only: catch it.
    # TODO: close client_socket and print a line containing "disconnected".
    client_socket.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    # TODO: make SIGTERM stop the server like Ctrl-C (SIGINT) does.

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # TODO: set SO_REUSEADDR so that a restarted server can bind at once.
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"listening on port {port}")
        while True:
            client_socket, client_addr = tcp_server_socket.accept()
            # TODO: serve the client in a new thread (daemon=True) instead of here,
            #       so that accept() is called again at once for the next client.
            handle_client(client_socket, client_addr)
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
