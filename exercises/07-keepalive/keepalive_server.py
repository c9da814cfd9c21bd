# 07-keepalive: echo server that notices clients that vanish
# Run it: python keepalive_server.py [port]      (default port 7788)
import socket
import sys


def serve_client(client_socket, client_addr):
    # TODO: switch keepalive on for THIS (accepted) socket:
    #   SO_KEEPALIVE = 1, TCP_KEEPIDLE = 1, TCP_KEEPINTVL = 1, TCP_KEEPCNT = 3
    #   e.g. client_socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # TODO: echo: recv() and send back everything until recv returns b'',
    #       then print a line with "disconnected"
    # TODO: when the keepalive probes get no answer, recv() raises TimeoutError
    #       (errno ETIMEDOUT): print a line with "lost" or "timed out"
    # TODO: a reset (ConnectionResetError) must not stop the server
    pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp_server_socket.bind(("", port))
    tcp_server_socket.listen(128)

    # TODO: forever: accept(), serve_client(), then close the client's socket
    #       (also when the client was lost)
    # TODO: on Ctrl-C (KeyboardInterrupt) and on SIGTERM (see the signal module)
    #       close the listening socket and exit with status 0, without a traceback.
    tcp_server_socket.close()


if __name__ == "__main__":
    main()
