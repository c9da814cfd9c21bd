# FAULT: when a client closes without sending anything, main() leaves its accept loop and the server exits.
import signal
import socket
import sys


def stop(signum, frame):
    raise KeyboardInterrupt


def serve_client(client, address):
    """Echo until the client leaves. True if it closed without sending anything."""
    name = f"{address[0]}:{address[1]}"
    print(f"{name} connected")
    sent_anything = False
    try:
        while True:
            data = client.recv(4096)
            if not data:
                print(f"{name} disconnected")
                return not sent_anything
            sent_anything = True
            client.sendall(data)
    except ConnectionError as error:
        print(f"{name} disconnected ({error.strerror})")
        return False
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
            if serve_client(client, address):
                break  # (bug) meant to skip an empty client, but leaves the accept loop
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
