# 上传客户端：sys.stdin.readline 读输入，sendfile 发送，makefile 读回复
import socket
import sys

print("服务器 IP：", end="")
ip = sys.stdin.readline().strip()
print("服务器端口：", end="")
port = int(sys.stdin.readline())
print("文件路径：", end="")
path = sys.stdin.readline().rstrip("\n")

try:
    f = open(path, "rb")
except FileNotFoundError:
    print("文件不存在：" + path, file=sys.stderr)
    sys.exit(2)
try:
    s = socket.create_connection((ip, port))
except ConnectionRefusedError:
    print("连接被拒绝", file=sys.stderr)
    sys.exit(3)
with f, s:
    s.sendfile(f)
    s.shutdown(socket.SHUT_WR)
    answer = s.makefile("rb").read()
print(answer.decode())
