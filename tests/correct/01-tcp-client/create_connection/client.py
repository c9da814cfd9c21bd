# Style: socket.create_connection and a with-block, English prompts,
# all questions asked before connecting.
import socket
import sys

host = input("Server address? ")
port = int(input("Server port? "))
text = input("Text to send? ")

try:
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(text.encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
except ConnectionRefusedError:
    sys.exit(f"error: connection refused by {host}:{port}")
except OSError as exc:
    sys.exit(f"error: {exc}")

print(b"".join(chunks).decode())
