# FAULT: reads the reply with a single recv(1024), so only the first piece is printed.
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
client.sendall(message.encode("utf-8"))
reply = client.recv(1024)
client.close()
print("Reply:", reply.decode("utf-8", errors="replace"))
