# Lesson style: `from socket import *`, one thread per client, Chinese messages.
from socket import *
from threading import Thread
import signal
import sys


def service_client(new_client_socket, client_addr):
    while True:
        try:
            recv_data = new_client_socket.recv(1024)
        except ConnectionResetError:
            print("客户端 %s 重置了连接, 已断开" % str(client_addr))
            break
        if recv_data:
            try:
                new_client_socket.sendall(recv_data)
            except OSError:
                print("客户端 %s 发送失败, 已断开" % str(client_addr))
                break
        else:
            print("客户端 %s 已经断开" % str(client_addr))
            break
    new_client_socket.close()


def on_term(signum, frame):
    sys.exit(0)


def main():
    signal.signal(signal.SIGTERM, on_term)
    port = 8877  # BUG: the statement says 7788
    if len(sys.argv) > 1:
        port = int(sys.argv[1])
    tcp_server_socket = socket(AF_INET, SOCK_STREAM)
    tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print("服务器已启动, 端口 %d" % port)
        while True:
            new_client_socket, client_addr = tcp_server_socket.accept()
            print("新的客户端:", client_addr)
            t = Thread(target=service_client, args=(new_client_socket, client_addr))
            t.daemon = True
            t.start()
    except KeyboardInterrupt:
        print("服务器关闭")
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
