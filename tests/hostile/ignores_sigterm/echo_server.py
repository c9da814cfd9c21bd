"""Hostile: an echo server that cannot be stopped politely. It and a helper process it forks
ignore SIGINT, SIGTERM and SIGHUP (the server says so and carries on)."""
import os
import signal
import socket
import sys
import time


def carry_on(number, _frame):
    print(f"ignoring signal {signal.Signals(number).name}", flush=True)


for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(number, carry_on)

if os.fork() == 0:  # a helper that ignores everything it can and just stays
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    while True:
        time.sleep(1)

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("", port))
server.listen(16)
print(f"listening on {port}", flush=True)
while True:
    try:
        client, address = server.accept()
    except InterruptedError:
        continue
    with client:
        while True:
            try:
                data = client.recv(65536)
            except ConnectionError:
                break
            if not data:
                print(f"{address} disconnected", flush=True)
                break
            try:
                client.sendall(data)
            except ConnectionError:
                break
