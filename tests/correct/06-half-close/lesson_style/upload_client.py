# 上传客户端：课程 4.2 的写法（from socket import *，中文提示）
import sys
from socket import *

server_ip = input("请输入服务器IP:")
server_port = input("请输入服务器port:")
file_path = input("请输入要上传的文件路径:")

try:
    f = open(file_path, "rb")
except OSError as e:
    print("打不开文件:", e)
    sys.exit(1)

tcp_client_socket = socket(AF_INET, SOCK_STREAM)
try:
    tcp_client_socket.connect((server_ip, int(server_port)))
    # 把文件的全部字节发给服务器
    while True:
        file_data = f.read(4096)
        if not file_data:
            break
        tcp_client_socket.sendall(file_data)
    f.close()
    # 半关闭：只关闭发送方向（发送 FIN），还可以继续接收
    tcp_client_socket.shutdown(SHUT_WR)
    # 一直接收，直到服务器关闭连接（recv 返回 b''）
    recv_data = b""
    while True:
        data = tcp_client_socket.recv(1024)
        if len(data) == 0:
            break
        recv_data += data
except (OSError, ValueError) as e:
    print("上传失败:", e)
    tcp_client_socket.close()
    sys.exit(1)

print("接收到的数据为:", recv_data.decode("utf-8", errors="replace"))
tcp_client_socket.close()
