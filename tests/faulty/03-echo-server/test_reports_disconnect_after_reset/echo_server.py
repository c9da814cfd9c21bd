"""Echo server (lesson 4.4)."""

import signal
import socket
import sys


def stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM now behaves like Ctrl-C


def serve_client(client, address):
    try:
        while True:
            data = client.recv(1024)
            if not data:
                print(f"{address} disconnected")
                break
            client.sendall(data)
    except ConnectionResetError:
        pass
    finally:
        client.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port))
    server.listen(128)
    try:
        while True:
            client, address = server.accept()
            print("new client", address)
            serve_client(client, address)
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
