"""Concurrent echo server: reference solution of exercise 04.

The echo protocol of exercise 03 (send back every byte, in order, until the
client closes), but every client gets its own thread, so many clients are
served at the same time: one that is slow, silent or misbehaving cannot hold
up the others.

    python concurrent_server.py [port]      (default port 7788)

Stop it with Ctrl-C (SIGINT) or SIGTERM.
"""

import signal
import socket
import sys
import threading

DEFAULT_PORT = 7788


def handle_client(client_socket, client_addr):
    """Serve ONE client: runs in its own thread, so it may block freely."""
    reason = "closed by client"
    try:
        while True:
            data = client_socket.recv(4096)
            if not data:
                # b'' means end of stream: the client closed its side
                # (lesson 4.4, note 8). Never keep calling recv() after this.
                break
            # sendall() loops until every byte is handed to the kernel;
            # a bare send() may take only part of the data.
            client_socket.sendall(data)
    except OSError as error:
        # ConnectionResetError (the client sent a RST), BrokenPipeError...
        # Only THIS client is affected: catch it here so the thread ends
        # quietly and the rest of the server goes on.
        reason = f"error: {error.__class__.__name__}"
    finally:
        # Close our side, or the socket would stay in CLOSE_WAIT (note 9).
        client_socket.close()
        # Returning from this function ends the thread: nothing is left behind.
        print(f"client {client_addr[0]}:{client_addr[1]} disconnected ({reason})")


def stop_on_sigterm(signum, frame):
    # SIGTERM kills a Python program by default (exit status -15) without
    # running any cleanup. Turn it into the same exception as Ctrl-C so that
    # both stop the server the same clean way.
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PORT
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Allow binding the port again at once after a restart, even while old
    # connections of the previous run are still in TIME_WAIT.
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"echo server listening on port {port}")

        while True:
            try:
                client_socket, client_addr = tcp_server_socket.accept()
            except ConnectionError:
                continue        # the client gave up before we accepted it
            print(f"client {client_addr[0]}:{client_addr[1]} connected")
            # daemon=True: a thread still serving a client must not keep the
            # program alive after Ctrl-C; the OS closes its socket at exit.
            worker = threading.Thread(
                target=handle_client, args=(client_socket, client_addr), daemon=True
            )
            worker.start()
    except KeyboardInterrupt:
        print("server stopped")
    except OSError as error:
        # e.g. the port is already taken by another program
        print(f"server error: {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
