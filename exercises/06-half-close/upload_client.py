# 06-half-close: upload client
# Asks for: server IP, server port, path of the file to send (in that order).
# Run it: python upload_client.py
import socket
import sys


def main():
    server_ip = input("Server IP: ")
    server_port = int(input("Server port: "))
    path = input("File to send: ")

    # TODO: open the file in BINARY mode ("rb")
    # TODO: create a TCP socket and connect to (server_ip, server_port)
    # TODO: send every byte of the file (a file can be bigger than one recv/send)
    # TODO: half-close: tcp_socket.shutdown(socket.SHUT_WR)   -- not close()!
    # TODO: recv() the reply in a loop until recv returns b'' (the server closed)
    # TODO: print the reply, close the socket
    # TODO: if the connection fails or the file is missing, print a message and
    #       exit with a non-zero status (sys.exit(1)), without a traceback
    return 0


if __name__ == "__main__":
    sys.exit(main())
