# FAULT: no SO_REUSEADDR: a restart while the last connection sits in TIME_WAIT fails with "Address already in use".
# 06-half-close: upload server
import hashlib
import signal
import socket
import sys


def handle_upload(client_socket):
    count = 0
    digest = hashlib.sha256()
    while True:
        data = client_socket.recv(65536)
        if not data:
            break
        count += len(data)
        digest.update(data)
    client_socket.sendall(f"{count} {digest.hexdigest()}\n".encode("utf-8"))


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.bind(("", port))
    tcp_server_socket.listen(128)
    try:
        while True:
            client_socket, addr = tcp_server_socket.accept()
            try:
                handle_upload(client_socket)
            except (ConnectionResetError, BrokenPipeError):
                print(addr, "reset the connection")
            finally:
                client_socket.close()
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
