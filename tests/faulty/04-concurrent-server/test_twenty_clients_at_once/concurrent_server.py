# FAULT: only 10 worker threads serve clients; with 20 clients connected at once the 11th and later wait until a worker is free.
import queue
import signal
import socket
import sys
import threading

WORKERS = 10
waiting_clients = queue.Queue()


def handle_client(client_socket, client_addr):
    reason = "closed by client"
    try:
        while True:
            data = client_socket.recv(4096)
            if not data:
                break
            client_socket.sendall(data)
    except OSError as error:
        reason = f"error: {error.__class__.__name__}"
    finally:
        client_socket.close()
        print(f"client {client_addr[0]}:{client_addr[1]} disconnected ({reason})")


def worker():
    # BUG: a fixed pool; a worker serves one client until it leaves.
    while True:
        client_socket, client_addr = waiting_clients.get()
        handle_client(client_socket, client_addr)


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    for _ in range(WORKERS):
        threading.Thread(target=worker, daemon=True).start()

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
            waiting_clients.put((client_socket, client_addr))
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
