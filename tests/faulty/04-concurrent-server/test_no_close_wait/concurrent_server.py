"""Exercise 04: a concurrent echo server."""

import signal
import socket
import sys
import threading


def handle_client(client_socket, client_addr):
    """Serve one client in its own thread."""
    try:
        while True:
            data = client_socket.recv(4096)
            if not data:
                break
            client_socket.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        print(f"{client_addr} disconnected")


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, on_sigterm)

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"listening on port {port}")
        while True:
            client_socket, client_addr = tcp_server_socket.accept()
            t = threading.Thread(target=handle_client, args=(client_socket, client_addr), daemon=True)
            t.start()
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
