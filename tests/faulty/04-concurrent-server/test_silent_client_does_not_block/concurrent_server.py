# FAULT: the main thread waits for a new client's first data before starting its thread, so a silent client blocks every later accept().
import signal
import socket
import sys
import threading


def handle_client(client_socket, client_addr, first_data):
    reason = "closed by client"
    try:
        data = first_data
        while data:
            client_socket.sendall(data)
            data = client_socket.recv(4096)
    except OSError as error:
        reason = f"error: {error.__class__.__name__}"
    finally:
        client_socket.close()
        print(f"client {client_addr[0]}:{client_addr[1]} disconnected ({reason})")


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"echo server listening on port {port}")
        while True:
            try:
                client_socket, client_addr = tcp_server_socket.accept()
            except ConnectionError:
                continue
            print(f"client {client_addr[0]}:{client_addr[1]} connected")
            # BUG: blocks here until this client sends something.
            try:
                first_data = client_socket.recv(4096)
            except OSError:
                first_data = b""
            threading.Thread(
                target=handle_client,
                args=(client_socket, client_addr, first_data),
                daemon=True,
            ).start()
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
