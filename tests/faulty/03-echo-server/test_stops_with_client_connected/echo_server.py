# FAULT: on SIGINT/SIGTERM while a client is connected it only sets a flag and waits for that client to leave before stopping.
import signal
import socket
import sys


busy = False
stop_requested = False


def stop(signum, frame):
    global stop_requested
    if busy:
        stop_requested = True  # (bug) finish the current client first
    else:
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
    finally:
        client.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    global busy
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Echo server listening on port {port}")
        while True:
            client, address = server.accept()
            busy = True
            serve_client(client, address)
            busy = False
            if stop_requested:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
