# FAULT: encodes the message with GBK (as in the original lesson) instead of UTF-8, so Chinese text arrives as the wrong bytes.
import socket
import sys

server_ip = input("Server IP: ")
server_port = int(input("Server port: "))

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    client.connect((server_ip, server_port))
except OSError as error:
    print(f"Could not connect to {server_ip}:{server_port}: {error}", file=sys.stderr)
    sys.exit(1)

message = input("Message: ")
client.sendall(message.encode("gbk"))
pieces = []
while data := client.recv(4096):
    pieces.append(data)
client.close()
print("Reply:", b"".join(pieces).decode("utf-8", errors="replace"))
