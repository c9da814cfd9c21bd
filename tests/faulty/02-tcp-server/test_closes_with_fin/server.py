# FAULT: sets SO_LINGER to (on, 0 s) on the client socket, so closing it sends a reset (RST) instead of a FIN.
import signal
import socket
import sys
import struct


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", port))
        server.listen(128)
        print(f"Listening on port {port}")
        client, address = server.accept()
        with client:
            data = client.recv(1024)
            if not data:
                print("client disconnected without sending anything")
            else:
                print("Received:", data.decode("utf-8", errors="replace"))
                client.sendall("thank you !".encode("utf-8"))
                # "close fast": linger on with a 0 s timeout -> the close is a reset
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except KeyboardInterrupt:
        print("Stopped")
    except ConnectionError as error:
        print(f"Connection error: {error}")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
