# FAULT: closes a finished client's socket only when the next client connects, so after a disconnect the socket sits in CLOSE_WAIT.
import signal
import socket
import sys


def stop(signum, frame):
    raise KeyboardInterrupt


def serve_client(client, address):
    name = f"{address[0]}:{address[1]}"
    print(f"{name} connected")
    try:
        while True:
            data = client.recv(4096)
            if not data:
                print(f"{name} disconnected")
                break
            client.sendall(data)
    except ConnectionError as error:
        print(f"{name} disconnected ({error.strerror})")
    # (bug) the socket is closed later, by main(), when the next client arrives


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Echo server listening on port {port}")
        previous = None
        while True:
            client, address = server.accept()
            if previous is not None:
                previous.close()  # tidy up the last client now
            serve_client(client, address)
            previous = client
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
