# 时间服务器：socket.create_server（POSIX 上自动设置 SO_REUSEADDR）和 datetime。
import signal
import socket
import sys
from datetime import datetime, timezone


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        with socket.create_server(("", port)) as server:
            print(f"时间服务器在端口 {port} 上监听")
            while True:
                conn, addr = server.accept()
                with conn:
                    now = datetime.now(timezone.utc)
                    conn.sendall((now.strftime("%Y-%m-%d %H:%M:%S") + "\n").encode("utf-8"))
                print(f"{addr[0]}:{addr[1]} 已断开")
    except KeyboardInterrupt:
        print("服务器已停止")
    return 0


if __name__ == "__main__":
    sys.exit(main())
