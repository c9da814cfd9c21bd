import signal
import socket
import sys


def reply_to(line: str) -> str:
    if line.startswith("ECHO "):
        return line[5:]
    if line.startswith("UPPER "):
        return line[6:].upper()
    if line.startswith("ADD "):
        try:
            a, b = line[4:].split()
            return str(int(a) + int(b))
        except ValueError:
            return "ERR 参数错误"
    if line == "QUIT":
        return "BYE"
    return "ERR 未知命令"


def session(conn):
    rfile = conn.makefile("rb")
    try:
        while True:
            raw = rfile.readline()
            if not raw.endswith(b"\n"):   # b'' (closed) or an unfinished last line
                return
            line = raw[:-1].decode("utf-8")
            conn.sendall((reply_to(line) + "\n").encode("utf-8"))
            if line == "QUIT":
                return
    finally:
        rfile.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("", port))
    srv.listen(5)
    try:
        while True:
            conn, addr = srv.accept()
            with conn:
                try:
                    session(conn)
                except (ConnectionResetError, UnicodeDecodeError):
                    pass
            print("客户端", addr, "断开")
    except KeyboardInterrupt:
        print("服务器停止")
    finally:
        srv.close()


main()
