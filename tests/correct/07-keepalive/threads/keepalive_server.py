"""Keepalive echo server, one daemon thread per client."""
import signal
import socket
import sys
import threading


def keepalive(conn, idle=1, interval=1, count=3):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


def serve(conn, addr):
    with conn:
        try:
            keepalive(conn)
            while data := conn.recv(8192):
                conn.sendall(data)
            print(f"[{addr[0]}:{addr[1]}] disconnected")
        except TimeoutError:
            print(f"[{addr[0]}:{addr[1]}] connection lost (no answer to keepalive probes)")
        except OSError as exc:
            print(f"[{addr[0]}:{addr[1]}] disconnected: {exc.strerror}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    with socket.create_server(("", port), reuse_port=False) as listener:
        # create_server() already sets SO_REUSEADDR on POSIX
        try:
            while True:
                conn, addr = listener.accept()
                threading.Thread(target=serve, args=(conn, addr), daemon=True).start()
        except KeyboardInterrupt:
            print("shutting down")


if __name__ == "__main__":
    main()
