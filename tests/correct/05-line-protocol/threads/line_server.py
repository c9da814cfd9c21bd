# threads style: `from socket import *`, a thread per client, a bytearray buffer, Chinese messages.
from socket import *
from threading import Thread
import signal
import sys


def reply_to(line):
    cmd, _, arg = line.partition(" ")
    if cmd == "ECHO":
        return arg
    if cmd == "UPPER":
        return arg.upper()
    if cmd == "ADD":
        try:
            a, b = arg.split()
            return str(int(a) + int(b))
        except ValueError:
            return "ERR 用法: ADD <整数> <整数>"
    if cmd == "QUIT":
        return "BYE"
    return "ERR 未知命令"


def service_client(client_socket, client_addr):
    buf = bytearray()
    try:
        while True:
            data = client_socket.recv(1024)
            if not data:
                break
            buf += data
            bye = False
            while True:
                pos = buf.find(b"\n")
                if pos < 0:
                    break
                line = bytes(buf[:pos]).decode("utf-8", "replace").rstrip("\r")
                del buf[:pos + 1]
                client_socket.sendall((reply_to(line) + "\n").encode("utf-8"))
                if line == "QUIT":
                    bye = True
                    break
            if bye:
                break
    except OSError:
        pass
    client_socket.close()
    print("客户端 %s 已断开" % str(client_addr))


def main():
    def on_term(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    tcp_server_socket = socket(AF_INET, SOCK_STREAM)
    tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print("服务器已启动, 端口", port)
        while True:
            client_socket, client_addr = tcp_server_socket.accept()
            print("新的客户端:", client_addr)
            Thread(target=service_client, args=(client_socket, client_addr), daemon=True).start()
    except KeyboardInterrupt:
        print("服务器关闭")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
