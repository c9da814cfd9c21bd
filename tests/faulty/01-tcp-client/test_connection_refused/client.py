# FAULT: does not catch ConnectionRefusedError, so a refused connection ends with a traceback.
import socket

server_ip = input("Server IP: ")
server_port = int(input("Server port: "))

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((server_ip, server_port))

message = input("Message: ")
client.sendall(message.encode("utf-8"))
pieces = []
while data := client.recv(4096):
    pieces.append(data)
client.close()
print("Reply:", b"".join(pieces).decode("utf-8", errors="replace"))
