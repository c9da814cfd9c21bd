"""Line protocol server: reference solution of exercise 05.

FAULTY: the default port is 8877, not 7788.

TCP is a byte stream: it keeps the order of the bytes but not the borders of
the send() calls. One recv() may return half a request, or a hundred requests,
or stop in the middle of a multi-byte UTF-8 character. So the server keeps
the bytes it has received in a buffer and only handles a request once its
whole line, up to the b"\n", is there.

Protocol (UTF-8 lines ending in "\n"):
    ECHO <text>        ->  <text>
    UPPER <text>       ->  <text> in upper case
    ADD <int> <int>    ->  the sum
    QUIT               ->  BYE, then the server closes the connection
    anything else      ->  ERR ..., and the connection stays open

    python line_server.py [port]      (default port 7788)

Clients are served one after another. Stop it with Ctrl-C or SIGTERM.
"""

import signal
import socket
import sys

DEFAULT_PORT = 7788


def answer(line):
    """Return the reply line (without "\n") to one request line."""
    command, _, argument = line.partition(" ")
    if command == "ECHO":
        return argument
    if command == "UPPER":
        return argument.upper()
    if command == "ADD":
        numbers = argument.split()
        try:
            if len(numbers) != 2:
                raise ValueError
            return str(int(numbers[0]) + int(numbers[1]))
        except ValueError:
            return "ERR ADD needs two integers"
    if command == "QUIT":
        return "BYE"
    return f"ERR unknown command: {command}"


def serve_client(client_socket):
    """Serve one client until it closes or sends QUIT; return how it ended."""
    buffer = b""  # bytes received but not yet handled: at most a partial line
    while True:
        data = client_socket.recv(4096)
        if not data:
            # End of stream. Bytes left in the buffer are an unfinished line
            # that will never be completed: drop them.
            return "closed by client" + (" in the middle of a line" if buffer else "")
        buffer += data

        # Handle every COMPLETE line in the buffer, in order. Decode a line
        # only once it is whole: a recv() may end inside a Chinese character.
        replies = []
        quit_requested = False
        while b"\n" in buffer:
            raw_line, _, buffer = buffer.partition(b"\n")
            line = raw_line.decode("utf-8", errors="replace").removesuffix("\r")
            replies.append(answer(line) + "\n")
            if line == "QUIT":
                quit_requested = True
                break
        if replies:
            client_socket.sendall("".join(replies).encode("utf-8"))
        if quit_requested:
            # We close first: our side of the connection goes to TIME_WAIT.
            return "QUIT"


def stop_on_sigterm(signum, frame):
    # Make SIGTERM stop the server the same clean way as Ctrl-C.
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8877  # BUG: the wrong default
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    tcp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp_server_socket.bind(("", port))
        tcp_server_socket.listen(128)
        print(f"line server listening on port {port}")
        while True:
            try:
                client_socket, client_addr = tcp_server_socket.accept()
            except ConnectionError:
                continue        # the client gave up before we accepted it
            who = f"{client_addr[0]}:{client_addr[1]}"
            print(f"client {who} connected")
            try:
                how = serve_client(client_socket)
            except OSError as error:          # e.g. ConnectionResetError
                how = f"error: {error.__class__.__name__}"
            finally:
                client_socket.close()
            print(f"client {who} disconnected ({how})")
    except KeyboardInterrupt:
        print("server stopped")
    except OSError as error:
        print(f"server error: {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        tcp_server_socket.close()


if __name__ == "__main__":
    main()
