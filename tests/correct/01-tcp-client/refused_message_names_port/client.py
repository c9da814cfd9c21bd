import socket
import sys


def main():
    server_ip = input("Server IP: ")
    server_port = int(input("Server port: "))
    tcp_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tcp_socket.connect((server_ip, server_port))
    except ConnectionRefusedError:
        print(f"cannot connect to {server_ip}:{server_port}")
        tcp_socket.close()
        return 1
    message = input("Message: ")
    tcp_socket.sendall(message.encode("utf-8"))
    chunks = []
    while True:
        data = tcp_socket.recv(1024)
        if not data:
            break
        chunks.append(data)
    tcp_socket.close()
    print(b"".join(chunks).decode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
