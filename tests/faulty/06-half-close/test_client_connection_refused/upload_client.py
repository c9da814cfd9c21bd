# FAULT: does not catch ConnectionRefusedError: a refused connection ends with a traceback.
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
    tcp_socket.connect((server_ip, server_port))
    tcp_socket.sendall(content)
    tcp_socket.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        data = tcp_socket.recv(1024)
        if not data:
            break
        reply += data
    tcp_socket.close()
    print(reply.decode("utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
