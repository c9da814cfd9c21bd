# FAULT: no default port: int(sys.argv[1]) crashes with IndexError when started without an argument (rule 1: default 7788).
import socket
import sys


def main():
    port = int(sys.argv[1])

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port))
    server.listen(128)

    client, addr = server.accept()
    data = client.recv(1024)
    if data:
        print("Received from", addr, ":", data.decode("utf-8"))
        client.send("thank you !".encode("utf-8"))
    else:
        print("client left without sending anything")
    client.close()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
