# 课程 4.3 的写法：from socket import *，中文输出，只服务一个客户端
from socket import *
import signal
import sys


def 停止(signum, frame):
    raise KeyboardInterrupt  # 让 SIGTERM 和 Ctrl-C 一样处理


signal.signal(signal.SIGTERM, 停止)

# 创建socket
tcp_server_socket = socket(AF_INET, SOCK_STREAM)
tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)

# 本地信息
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
address = ('', port)

try:
    # 绑定
    tcp_server_socket.bind(address)

    # 使用listen将其变为被动的，这样就可以接收别人的链接了
    tcp_server_socket.listen(128)

    # 如果有新的客户端来链接服务器，那么就产生一个新的套接字专门为这个客户端服务
    client_socket, clientAddr = tcp_server_socket.accept()

    # 接收对方发送过来的数据
    recv_data = client_socket.recv(1024)  # 接收1024个字节
    if recv_data:
        print('接收到的数据为:', recv_data.decode('utf-8'))
        # 发送一些数据到客户端
        client_socket.send("thank you !".encode('utf-8'))
    else:
        print('客户端没有发送数据就断开了')

    # 关闭为这个客户端服务的套接字
    client_socket.close()
except KeyboardInterrupt:
    print('服务器停止')
except ConnectionResetError:
    print('客户端重置了连接')
finally:
    tcp_server_socket.close()
