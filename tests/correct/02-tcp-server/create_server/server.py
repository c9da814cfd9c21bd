import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
server = socket.create_server(("", port))        # SO_REUSEADDR is set by create_server on POSIX
assert server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
conn, addr = server.accept()
buf = bytearray(1024)
n = conn.recv_into(buf, 1024)
if n == 0:
    print("nothing received; bye")
else:
    print("got:", bytes(buf[:n]).decode("utf-8"))
    conn.sendall("thank you !".encode())
conn.close()
server.close()
