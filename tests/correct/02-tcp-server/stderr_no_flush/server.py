import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", port))
    listener.listen()
    print(f"[server] listening on {port}", file=sys.stderr)
    conn, peer = listener.accept()
    with conn:
        print(f"[server] connection from {peer}", file=sys.stderr)
        msg = conn.recv(1024)
        if msg == b"":
            print("[server] empty connection", file=sys.stderr)
        else:
            print(msg.decode("utf-8"))
            conn.sendall(b"thank you !")
sys.exit(0)
