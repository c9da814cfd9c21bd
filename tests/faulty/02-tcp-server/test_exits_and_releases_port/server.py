# FAULT: after closing the client's socket it keeps the listening socket open and sleeps forever instead of exiting.
import signal
import socket
import sys
import time


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
        while True:  # "keep the server up" (but it never accepts again)
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopped")
    except ConnectionError as error:
        print(f"Connection error: {error}")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
