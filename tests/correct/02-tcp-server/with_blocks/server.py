# Style: with-blocks for both sockets, socket.create_server (SO_REUSEADDR is on by default there).
import signal
import socket
import sys

signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM -> KeyboardInterrupt

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

try:
    with socket.create_server(("", PORT), reuse_port=False) as listener:
        conn, peer = listener.accept()
        with conn:
            message = conn.recv(1024)
            if message:
                print(f"{peer} says: {message.decode(errors='replace')}")
                conn.sendall(b"thank you !")
            else:
                print(f"{peer} sent nothing")
except KeyboardInterrupt:
    print("bye")
except ConnectionResetError:
    print("client reset the connection")
