# 保活回显服务器：课程写法（from socket import *），一个接一个地服务客户端
import signal
import sys
from socket import *

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
tcp_server_socket = socket(AF_INET, SOCK_STREAM)
tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcp_server_socket.bind(("", port))
tcp_server_socket.listen(128)
print("服务器已启动，端口", port)

try:
    while True:
        new_client_socket, client_addr = tcp_server_socket.accept()
        print("客户端已连接:", client_addr)
        # 开启 TCP 保活：空闲 1 秒开始探测，每 1 秒一次，3 次没有回应就判定连接已死
        new_client_socket.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
        new_client_socket.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 1)
        new_client_socket.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 1)
        new_client_socket.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 3)
        while True:
            try:
                recv_data = new_client_socket.recv(1024)
                if recv_data:
                    new_client_socket.sendall(recv_data)
            except OSError as e:
                if e.errno == 110:   # ETIMEDOUT：保活探测没有回应
                    print("客户端", client_addr, "保活超时，连接已失效")
                else:
                    print("客户端", client_addr, "异常断开:", e)
                break
            if not recv_data:
                print("客户端", client_addr, "已经断开")
                break
        new_client_socket.close()
except KeyboardInterrupt:
    print("服务器关闭")
finally:
    tcp_server_socket.close()
