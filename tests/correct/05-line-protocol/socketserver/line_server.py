# socketserver style: StreamRequestHandler; rfile.readline() does the line buffering.
import signal
import socketserver
import sys


def reply_to(line):
    cmd, _, arg = line.partition(" ")
    if cmd == "ECHO":
        return arg
    if cmd == "UPPER":
        return arg.upper()
    if cmd == "ADD":
        try:
            a, b = arg.split()
            return str(int(a) + int(b))
        except ValueError:
            return "ERR ADD takes two integers"
    if cmd == "QUIT":
        return "BYE"
    return f"ERR unknown command {cmd!r}"


class LineHandler(socketserver.StreamRequestHandler):
    def handle(self):
        who = "%s:%d" % self.client_address
        try:
            while True:
                raw = self.rfile.readline()       # up to and including b"\n"
                if not raw.endswith(b"\n"):       # b"" or a partial line: end of stream
                    break
                line = raw[:-1].decode("utf-8", "replace").rstrip("\r")
                self.wfile.write((reply_to(line) + "\n").encode("utf-8"))
                if line == "QUIT":
                    break                         # finish() then closes our side first
        except OSError:
            pass
        print(f"{who} disconnected")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    with Server(("", port), LineHandler) as server:
        print(f"serving on port {port}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("bye")


if __name__ == "__main__":
    main()
