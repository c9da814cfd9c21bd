import hashlib
import socket
import sys

ip = input()
port = int(input())
path = input()

try:
    data = open(path, "rb").read()
except OSError as e:
    print("cannot read", path, e, file=sys.stderr)
    sys.exit(2)

s = socket.socket()
try:
    s.connect((ip, port))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = bytearray()
    while True:
        part = s.recv(65536)
        if part == b"":
            break
        reply += part
except OSError as e:
    print("network error:", e, file=sys.stderr)
    sys.exit(3)
finally:
    s.close()

text = reply.decode("utf-8", "replace").strip()
print(text)
# a little extra: compare with our own hash
mine = f"{len(data)} {hashlib.sha256(data).hexdigest()}"
print("matches local hash" if text == mine else "does NOT match local hash " + mine)
