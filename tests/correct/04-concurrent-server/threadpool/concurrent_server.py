import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

clients = set()
lock = threading.Lock()


def serve(conn, addr):
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        with lock:
            clients.discard(conn)
        conn.close()
        print(addr, "disconnected")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pool = ThreadPoolExecutor(max_workers=128)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("", port))
    srv.listen(128)
    try:
        while True:
            conn, addr = srv.accept()
            with lock:
                clients.add(conn)
            pool.submit(serve, conn, addr)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        srv.close()
        with lock:
            for c in list(clients):
                try:
                    c.shutdown(socket.SHUT_RDWR)   # wakes the worker blocked in recv()
                except OSError:
                    pass
        pool.shutdown(wait=True, cancel_futures=True)


if __name__ == "__main__":
    main()
