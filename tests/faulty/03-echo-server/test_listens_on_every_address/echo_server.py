# 课程 4.4 的写法：from socket import *，中文输出，一个接一个地为客户端服务
from socket import *
import signal
import sys


def 停止(signum, frame):
    raise KeyboardInterrupt  # SIGTERM 也按 Ctrl-C 处理


signal.signal(signal.SIGTERM, 停止)

tcp_server_socket = socket(AF_INET, SOCK_STREAM)
tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

try:
    tcp_server_socket.bind(('127.0.0.1', port))  # BUG: only one address
    tcp_server_socket.listen(128)
    print('服务器已启动，端口', port)

    while True:
        # 为新的客户端产生一个新的套接字
        client_socket, clientAddr = tcp_server_socket.accept()
        print('新的客户端', clientAddr)
        try:
            while True:
                recv_data = client_socket.recv(1024)
                # recv 返回的长度为 0，说明客户端已经下线（注意点 9）
                if len(recv_data) > 0:
                    client_socket.sendall(recv_data)
                else:
                    print('客户端', clientAddr, '已经断开')
                    break
        except ConnectionResetError:
            print('客户端', clientAddr, '异常断开')
        finally:
            # 关闭为这个客户端服务的套接字（注意点 8）
            client_socket.close()
except KeyboardInterrupt:
    print('服务器停止')
finally:
    tcp_server_socket.close()
