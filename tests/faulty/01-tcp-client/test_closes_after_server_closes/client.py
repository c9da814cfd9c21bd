# FAULT: after the server closed, prints the reply but sleeps 30 s before closing its socket (CLOSE_WAIT) and exiting.
import socket
import sys
import time

server_ip = input("Server IP: ")
server_port = int(input("Server port: "))

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
print("Reply:", b"".join(pieces).decode("utf-8", errors="replace"))
time.sleep(30)  # "keep the window open" so the reply can be read
client.close()
