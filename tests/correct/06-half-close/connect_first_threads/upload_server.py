import hashlib
import signal
import socket
import sys
import threading


def handle(conn, addr):
    h, n = hashlib.sha256(), 0
    try:
        with conn:
            while True:
                b = conn.recv(4096)
                if not b:
                    break
                h.update(b)
                n += len(b)
            conn.sendall(f"{n} {h.hexdigest()}\n".encode())
    except OSError as e:
        print(f"{addr}: {e}")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("", port))
    srv.listen(16)
    try:
        while True:
            conn, addr = srv.accept()
            threading.Thread(target=handle, args=(conn, addr), daemon=True).start()
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()


main()
