# FAULT: waits only 0.3 s for the reply (one recv with a timeout) and exits 0 without printing it when it comes later
# (the grader's late reply comes 0.5 s after the FIN; 0.3 s leaves a loaded grader time to answer at once elsewhere).
"""Upload client for exercise 06-half-close (lesson 4.5, the four-way close).

It sends a file to the upload server, then half-closes the connection with
shutdown(SHUT_WR): this sends our FIN ("I have nothing more to send", the
first wave of the four-way close) while our receiving side stays open. The
server sees end of stream (recv returns b''), replies with
"<byte count> <sha256 hex>", and closes its side. We read that reply until
the server closes, print it, close our socket and exit 0.
"""
import socket
import sys

BUFSIZE = 64 * 1024


def main():
    # Ask in the contract's order: server IP, server port, file path.
    server_ip = input("Server IP: ")
    try:
        server_port = int(input("Server port: "))
    except ValueError:
        print("the port must be a number", file=sys.stderr)
        return 1
    path = input("File to send: ")

    try:
        # Binary mode: the bytes must arrive exactly as they are on disk.
        with open(path, "rb") as f:
            # Like the lesson's client we never bind(): the kernel picks our
            # local port (note 2 of 4.4).
            tcp_client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp_client_socket.connect((server_ip, server_port))

                # Send the whole file, piece by piece (sendall loops until
                # every byte of a piece is handed to the kernel).
                sent = 0
                while True:
                    chunk = f.read(BUFSIZE)
                    if not chunk:
                        break
                    tcp_client_socket.sendall(chunk)
                    sent += len(chunk)
                print("sent", sent, "bytes")

                # Half-close: our FIN goes out, but we can still receive.
                # close() here would throw away the server's reply.
                tcp_client_socket.shutdown(socket.SHUT_WR)

                # Read the reply until the server closes (recv returns b'').
                # The reply may come late and in pieces, so keep reading.
                # BUG: a single recv with a short timeout
                tcp_client_socket.settimeout(0.3)
                try:
                    reply = tcp_client_socket.recv(BUFSIZE)
                except socket.timeout:
                    reply = b""
            finally:
                tcp_client_socket.close()
    except OSError as e:
        # Covers a missing file, connection refused, a reset by the server...
        print("upload failed:", e, file=sys.stderr)
        return 1

    if not reply:
        print("no reply from the server")
        return 0
    print("server replied:", reply.decode("utf-8", errors="replace").strip())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, EOFError):
        print()
        sys.exit(1)
