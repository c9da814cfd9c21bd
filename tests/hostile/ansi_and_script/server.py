"""Hostile: terminal and HTML injection. Prints ANSI escape sequences (clear the screen, move
the cursor, colours, set the window title), a <script> tag, a carriage return that
overwrites the line with a fake PASS, NUL and bell bytes; sends the same bytes as its reply.
Never prints the message it got."""
import socket
import sys

JUNK = ("\x1b[2J\x1b[H\x1b[1;32m  PASS  everything  10/10\x1b[0m"
        "\x1b]0;pwned\x07<script>alert(1)</script>"
        "\rFAIL overwritten by a carriage return\r  PASS  Score: 10/10"
        "\x00\x00NUL\x07\x07bell\x1b[31mred\x1b[0m\x1bc\x9b31m")
sys.stdout.write(JUNK + "\n")
sys.stderr.write(JUNK + "\n")
sys.stdout.flush()
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("", port))
server.listen(16)
client, _address = server.accept()
client.recv(4096)
client.sendall(JUNK.encode("utf-8", "surrogateescape"))
client.close()
server.close()
sys.stdout.write(JUNK + "\n")
