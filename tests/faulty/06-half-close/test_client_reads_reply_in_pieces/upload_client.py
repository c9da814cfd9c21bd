# FAULT: reads the reply with a single recv(1024), so a reply in two pieces is cut (rule 4: recv() in a loop until b"").
# 06-half-close: upload client
import socket
import sys


def main():
    server_ip = input("Server IP: ")
    server_port = int(input("Server port: "))
    path = input("File to send: ")

    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as e:
        print(f"cannot read {path}: {e}")
        return 1

    tcp_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tcp_socket.connect((server_ip, server_port))
    except OSError as e:
        print(f"cannot connect: {e}")
        tcp_socket.close()
        return 1
    tcp_socket.sendall(content)
    tcp_socket.shutdown(socket.SHUT_WR)
    reply = tcp_socket.recv(1024)
    tcp_socket.close()
    print(reply.decode("utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
