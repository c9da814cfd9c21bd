# FAULT: handles neither Ctrl-C nor SIGTERM: SIGINT ends it with a KeyboardInterrupt
# traceback, SIGTERM kills it.
import socket
import sys
import time


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port))
    server.listen(16)
    while True:
        client, _address = server.accept()
        with client:
            client.sendall(time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime()).encode())


if __name__ == "__main__":
    sys.exit(main())
