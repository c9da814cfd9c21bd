# 课程 4.2 的写法：from socket import *，中文提示，连上服务器后再问要发送的数据
from socket import *
import sys

# 创建socket
tcp_client_socket = socket(AF_INET, SOCK_STREAM)

# 目的信息
server_ip = input("请输入服务器IP:")
server_port = int(input("请输入服务器port:"))

# 链接服务器
try:
    tcp_client_socket.connect((server_ip, server_port))
except ConnectionRefusedError:
    print("连接被拒绝：服务器没有在这个端口监听")
    tcp_client_socket.close()
    sys.exit(1)

# 提示用户输入数据
send_data = input("请输入要发送的数据:")
tcp_client_socket.send(send_data.encode("utf-8"))

# 接收对方发送过来的数据，直到对方关闭连接（recv 返回 b''）
recv_data = b""
while True:
    data = tcp_client_socket.recv(1024)
    if not data:
        break
    recv_data += data
print("接收到的数据为:", recv_data.decode("utf-8"))

# 关闭套接字
tcp_client_socket.close()
