# FAULT: asks for the port but connects to the lesson's fixed port 7788 instead of the one typed in.
import socket
import sys

server_ip = input("Server IP: ")
server_port = int(input("Server port: "))
server_port = 7788  # left over from testing against the lesson's server

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
