# Style: one daemon thread per client, accept loop in the main thread.
import signal
import socket
import sys
import threading


def handle(conn, addr):
    with conn:
        try:
            while True:
                chunk = conn.recv(16384)
                if chunk == b"":
                    break
                conn.sendall(chunk)
            print(f"client {addr[0]}:{addr[1]} disconnected")
        except OSError as err:
            print(f"client {addr[0]}:{addr[1]} disconnected: {err}")


def sigterm(signum, frame):
    raise SystemExit(0)


def main():
    signal.signal(signal.SIGTERM, sigterm)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("", port))
        srv.listen(16)
        while True:
            conn, addr = srv.accept()
            threading.Thread(target=handle, args=(conn, addr), daemon=True).start()
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        srv.close()


if __name__ == "__main__":
    main()
