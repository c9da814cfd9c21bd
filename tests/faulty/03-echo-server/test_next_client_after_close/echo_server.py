# FAULT: stops the server (exit 0) once a client that sent data has closed normally, instead of accepting the next client.
import signal
import socket
import sys


def stop(signum, frame):
    raise KeyboardInterrupt


def serve_client(client, address):
    """Echo until the client leaves. True if it sent data and then closed normally."""
    name = f"{address[0]}:{address[1]}"
    print(f"{name} connected")
    sent_anything = False
    try:
        while True:
            data = client.recv(4096)
            if not data:
                print(f"{name} disconnected")
                return sent_anything
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
                break  # (bug) the session is over, so the server stops
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
