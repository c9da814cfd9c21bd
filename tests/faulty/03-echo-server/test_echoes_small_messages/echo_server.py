# FAULT: echoes text re-encoded as GBK (as in the original lesson) instead of the bytes received: Chinese comes back as different bytes (ASCII and binary data are unchanged).
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
            try:
                # echo text the way the original lesson encodes it
                client.sendall(data.decode("utf-8").encode("gbk"))
            except UnicodeError:
                client.sendall(data)  # not text: echo the raw bytes
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
