import socket
import sys

sys.stdout.write("请输入服务器IP：")
ip = sys.stdin.readline().rstrip("\n")
sys.stdout.write("请输入服务器端口：")
port = int(sys.stdin.readline())
sys.stdout.write("请输入要发送的消息：")
msg = sys.stdin.readline().rstrip("\n")

try:
    s = socket.create_connection((ip, port))
except OSError as e:
    print("连接失败：", e, file=sys.stderr)
    sys.exit(1)

with s:
    s.sendall(msg.encode("utf-8"))
    f = s.makefile("rb")
    reply = f.read()          # reads until EOF
    f.close()
print("服务器回复：" + reply.decode("utf-8"))
