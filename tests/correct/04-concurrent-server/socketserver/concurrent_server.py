# socketserver style: ThreadingTCPServer, one daemon thread per client.
import signal
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        host, port = self.client_address
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    break
                self.request.sendall(data)
        except ConnectionError:
            pass  # reset or broken pipe: this client is gone, the others go on
        # socketserver shuts down and closes self.request after handle() returns
        print(f"{host}:{port} disconnected")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True   # SO_REUSEADDR
    daemon_threads = True        # client threads must not keep the process alive


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    with Server(("", port), EchoHandler) as server:
        print(f"serving on port {port}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("bye")
    # leaving the with-block called server_close(): the listening socket is closed


if __name__ == "__main__":
    main()
