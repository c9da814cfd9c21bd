# FAULT: echoes only the first 64 KiB a client sends; later bytes are read and dropped.
import signal
import socket
import sys
MAX_ECHO = 64 * 1024  # "protect the server from huge clients"


def stop(signum, frame):
    raise KeyboardInterrupt


def serve_client(client, address):
    name = f"{address[0]}:{address[1]}"
    print(f"{name} connected")
    echoed = 0
    try:
        while True:
            data = client.recv(4096)
            if not data:
                print(f"{name} disconnected")
                break
            if echoed < MAX_ECHO:
                data = data[:MAX_ECHO - echoed]
                client.sendall(data)
                echoed += len(data)
    except ConnectionError as error:
        print(f"{name} disconnected ({error.strerror})")
    finally:
        client.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Echo server listening on port {port}")
        while True:
            client, address = server.accept()
            serve_client(client, address)
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
