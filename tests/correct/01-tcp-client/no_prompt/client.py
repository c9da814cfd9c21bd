# Style: input() without prompt text; the reply is decoded incrementally
# (an incremental decoder keeps a half character until its rest arrives).
import codecs
import socket
import sys

ip = input()
port = int(input())
s = socket.socket()
try:
    s.connect((ip, port))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(3)
msg = input()
s.sendall(msg.encode("utf-8"))

decoder = codecs.getincrementaldecoder("utf-8")()
text = ""
for piece in iter(lambda: s.recv(7), b""):
    text += decoder.decode(piece)
text += decoder.decode(b"", final=True)
s.close()
print(text)
