# FAULT: sends time.ctime() ("Tue Dec  1 12:00:00 2026"), not YYYY-MM-DD HH:MM:SS.
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
    server.bind(("", port))
    server.listen(16)
    try:
        while True:
            client, _address = server.accept()
            with client:
                client.sendall(f"{time.ctime()}\n".encode())
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
