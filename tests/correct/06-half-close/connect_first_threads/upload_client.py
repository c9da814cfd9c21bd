import socket
import sys

ip = input("IP address of the server? ")
port = int(input("Port? "))
sock = socket.socket()
try:
    sock.connect((ip, port))
except ConnectionRefusedError:
    print("The server refused the connection.", file=sys.stderr)
    sys.exit(1)
path = input("Which file? ")
try:
    with open(path, "rb") as f:
        while True:
            block = f.read(4096)
            if not block:
                break
            sock.sendall(block)
except FileNotFoundError:
    print("No such file:", path, file=sys.stderr)
    sock.close()
    sys.exit(1)
sock.shutdown(socket.SHUT_WR)
parts = []
while True:
    part = sock.recv(16)
    if part == b"":
        break
    parts.append(part)
sock.close()
sys.stdout.write(b"".join(parts).decode())
