# FAULT: serves one client, then exits (the one-client server of exercise 02).
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
        client, _address = server.accept()
        with client:
            client.sendall(time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime()).encode())
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
