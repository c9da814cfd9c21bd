"""Upload client written with socket.create_connection, with-blocks and sendfile()."""
import socket
import sys

host = input("Server address? ")
port = int(input("Server port? "))
path = input("Path of the file to upload? ")

try:
    with open(path, "rb") as f, socket.create_connection((host, port)) as sock:
        sock.sendfile(f)                  # every byte of the file
        sock.shutdown(socket.SHUT_WR)     # half-close: FIN out, still able to read
        chunks = []
        while chunk := sock.recv(4096):   # until the server closes
            chunks.append(chunk)
except OSError as exc:
    sys.exit(f"error: {exc}")

print(b"".join(chunks).decode(errors="replace"), end="")
