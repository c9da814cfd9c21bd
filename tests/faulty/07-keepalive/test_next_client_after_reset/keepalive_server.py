"""FAULTY: a client reset stops the server with a traceback.

Echo server with TCP keepalive, exercise 07-keepalive.

A client whose machine loses power never sends a FIN or a reset: a server
blocked in recv() would wait for it forever. TCP keepalive makes the kernel
probe an idle connection: after TCP_KEEPIDLE seconds of silence it sends a
probe, then one every TCP_KEEPINTVL seconds; after TCP_KEEPCNT unanswered
probes the connection is declared dead and recv() fails with TimeoutError
(errno ETIMEDOUT). With 1 s / 1 s / 3 that happens about 4 s after the
client went silent.

Note: this is NOT socket.settimeout(). A timeout would also throw out a
client that is alive but just has nothing to say; keepalive only ends
connections whose peer no longer answers at all.

Usage: python keepalive_server.py [port]     (default port 7788)
"""
import signal
import socket
import sys

KEEPIDLE = 1    # seconds of silence before the first probe
KEEPINTVL = 1   # seconds between probes
KEEPCNT = 3     # unanswered probes before the connection is dead


def on_sigterm(signum, frame):
    # Turn SIGTERM into the same clean exit as Ctrl-C (SIGINT).
    raise KeyboardInterrupt


def enable_keepalive(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)   # switch it on...
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPIDLE)   # ...and set
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPINTVL)  # its timing
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPCNT)


def serve_client(client_socket, who):
    """Echo everything back until the client leaves, closes or vanishes."""
    try:
        enable_keepalive(client_socket)   # on the accepted socket
        while True:
            data = client_socket.recv(4096)
            if not data:    # b'': the client closed normally (note 9 of 4.4)
                print(who, "disconnected")
                return
            client_socket.sendall(data)
    except TimeoutError:    # ETIMEDOUT: the keepalive probes got no answer
        print(who, "lost: keepalive timed out")
    # BUG: a ConnectionResetError is not caught: it stops the server


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, on_sigterm)

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print("keepalive echo server listening on port", port)
        while True:     # one client after another, forever
            client_socket, client_addr = tcp_server_socket.accept()
            who = f"{client_addr[0]}:{client_addr[1]}"
            print(who, "connected")
            try:
                serve_client(client_socket, who)
            finally:
                client_socket.close()   # release the socket, dead or alive
    except KeyboardInterrupt:
        print("server stopped")
    except OSError as e:
        print("server error:", e, file=sys.stderr)
        return 1
    finally:
        tcp_server_socket.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
