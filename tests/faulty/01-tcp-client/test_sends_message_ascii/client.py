# FAULT: appends "\r\n" to messages that are pure ASCII, so the server receives two extra bytes (Chinese messages are sent unchanged).
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
if message.isascii():
    message += "\r\n"  # habit from line-based protocols: terminate English commands
client.sendall(message.encode("utf-8"))
pieces = []
while data := client.recv(4096):
    pieces.append(data)
client.close()
print("Reply:", b"".join(pieces).decode("utf-8", errors="replace"))
