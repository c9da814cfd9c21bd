# FAULT: treats a recv() shorter than the buffer as the end of the upload and replies at once, before the client half-closes.
# Its buffer (2 MiB) is larger than anything the grader sends in one piece, so the first recv() is always short:
# the fault shows the same way however the bytes arrive (with a 64 KiB buffer it depended on the machine's timing).
"""Upload server for exercise 06-half-close (lesson 4.5, the four-way close).

For each client, one after another: read the upload until end of stream
(recv returns b'', which is how the client's shutdown(SHUT_WR) - its FIN -
looks on our side), then reply with one line "<byte count> <sha256 hex>\n"
and close the connection (our FIN: the second half of the four-way close).

Usage: python upload_server.py [port]     (default port 7788)
"""
import hashlib
import signal
import socket
import sys

BUFSIZE = 2 * 1024 * 1024  # "read the whole upload at once"


def on_sigterm(signum, frame):
    # Turn SIGTERM into the same clean exit as Ctrl-C (SIGINT).
    raise KeyboardInterrupt


def handle_upload(client_socket, client_addr):
    """Receive one upload until end of stream, reply with its size and hash."""
    count = 0
    digest = hashlib.sha256()
    while True:
        data = client_socket.recv(BUFSIZE)
        if not data:            # b'': the client half-closed, the upload is complete
            break
        count += len(data)
        digest.update(data)     # hash piece by piece: no need to keep the whole file
        if len(data) < BUFSIZE:  # BUG: "a short piece must be the last one"
            break
    # Only now, after the end of stream, do we know the size and the hash.
    client_socket.sendall(f"{count} {digest.hexdigest()}\n".encode("utf-8"))
    print(f"{client_addr[0]}:{client_addr[1]} uploaded {count} bytes, sha256 {digest.hexdigest()}")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, on_sigterm)

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Rebind at once after a restart, even with old connections in TIME_WAIT.
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print("upload server listening on port", port)
        while True:     # serve clients one after another, forever
            client_socket, client_addr = tcp_server_socket.accept()
            try:
                handle_upload(client_socket, client_addr)
            except OSError as e:   # e.g. the client reset the connection
                print(f"{client_addr[0]}:{client_addr[1]} upload failed: {e}")
            finally:
                client_socket.close()   # we close after replying
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
