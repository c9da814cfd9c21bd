# 上传服务器：课程 4.3 的写法（from socket import *，一个接一个地服务客户端）
import hashlib
import signal
import sys
from socket import *


def 收到终止信号(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGTERM, 收到终止信号)

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
tcp_server_socket = socket(AF_INET, SOCK_STREAM)
tcp_server_socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcp_server_socket.bind(("", port))
tcp_server_socket.listen(128)

try:
    while True:
        client_socket, clientAddr = tcp_server_socket.accept()
        print("新的客户端:", clientAddr)
        try:
            total = 0
            sha = hashlib.sha256()
            while True:
                recv_data = client_socket.recv(1024)
                if len(recv_data) == 0:   # 客户端半关闭了（发来了 FIN）
                    break
                total += len(recv_data)
                sha.update(recv_data)
            client_socket.send(("%d %s\n" % (total, sha.hexdigest())).encode("utf-8"))
            print("收到 %d 字节，sha256 = %s" % (total, sha.hexdigest()))
        except OSError as e:
            print("客户端出错，断开:", e)
        client_socket.close()
except KeyboardInterrupt:
    print("服务器关闭")
finally:
    tcp_server_socket.close()
