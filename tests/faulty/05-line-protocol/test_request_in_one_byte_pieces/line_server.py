# FAULT: assumes a request arrives in at most two recv() pieces: when the first piece has no newline it reads once more and treats the result as complete lines.
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
    while True:
        data = client_socket.recv(1 << 20)
        if not data:
            return "closed by client"
        if not data.endswith(b"\n"):
            # BUG: "the rest of the request is surely in the next piece"
            more = client_socket.recv(1 << 20)
            if not more:
                return "closed by client"
            data += more
        replies = []
        quit_requested = False
        for raw_line in data.split(b"\n"):
            if not raw_line:
                continue
            line = raw_line.decode("utf-8", errors="replace").removesuffix("\r")
            replies.append(answer(line) + "\n")
            if line == "QUIT":
                quit_requested = True
                break
        if replies:
            client_socket.sendall("".join(replies).encode("utf-8"))
        if quit_requested:
            return "QUIT"


def stop_on_sigterm(signum, frame):
    # Make SIGTERM stop the server the same clean way as Ctrl-C.
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PORT
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
