# 06-half-close: upload server
# Run it: python upload_server.py [port]      (default port 7788)
import hashlib
import socket
import sys


def handle_upload(client_socket):
    count = 0
    digest = hashlib.sha256()
    # TODO: recv() in a loop until it returns b'' (the client's shutdown(SHUT_WR));
    #       add every piece to count and to digest (digest.update(data))
    # TODO: only then reply with one line: f"{count} {digest.hexdigest()}\n"
    #       (encoded as UTF-8)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp_server_socket.bind(("", port))
    tcp_server_socket.listen(128)

    # TODO: serve clients one after another, forever:
    #       accept(), handle_upload(), then close the client's socket.
    #       A client that resets the connection must not stop the server.
    # TODO: on Ctrl-C (KeyboardInterrupt) and on SIGTERM (see the signal module)
    #       close the listening socket and exit with status 0, without a traceback.
    tcp_server_socket.close()


if __name__ == "__main__":
    main()
