# FAULT: decodes every recv() piece on its own with errors="replace", so a character split between two pieces is printed as replacement characters.
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
reply = ""
while data := client.recv(4096):
    reply += data.decode("utf-8", errors="replace")
client.close()
print("Reply:", reply)
