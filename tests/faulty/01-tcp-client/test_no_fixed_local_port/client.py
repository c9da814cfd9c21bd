# FAULT: binds the fixed local port 8899 (with SO_REUSEADDR) before connecting, although a client should let the system choose (lesson 4.4, note 2).
import socket
import sys

server_ip = input("Server IP: ")
server_port = int(input("Server port: "))

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
client.bind(("", 8899))
try:
    client.connect((server_ip, server_port))
except OSError as error:
    print(f"Could not connect to {server_ip}:{server_port}: {error}", file=sys.stderr)
    sys.exit(1)

message = input("Message: ")
client.sendall(message.encode("utf-8"))
pieces = []
while data := client.recv(4096):
    pieces.append(data)
client.close()
print("Reply:", b"".join(pieces).decode("utf-8", errors="replace"))
