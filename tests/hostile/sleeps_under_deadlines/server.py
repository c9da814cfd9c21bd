"""Hostile: a server that answers just before every deadline of the checks (LISTEN within
5 s, the reply within 3 s, the exit within 3 s), to make grading as slow as possible. It
never prints the message it received, so it loses those points."""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
print("slow server: listening in 4.8 s", flush=True)
time.sleep(4.8)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("", port))
server.listen(16)
client, _address = server.accept()
time.sleep(2.8)
client.recv(4096)
client.sendall(b"thank you !")
client.close()
server.close()
time.sleep(2.8)
