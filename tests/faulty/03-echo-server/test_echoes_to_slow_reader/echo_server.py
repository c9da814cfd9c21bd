import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    signal.signal(signal.SIGTERM, stop)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("", port))
    lsock.listen(128)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    try:
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    s, addr = lsock.accept()
                    s.setblocking(False)
                    sel.register(s, selectors.EVENT_READ, addr)
                    continue
                s, addr = key.fileobj, key.data
                try:
                    data = s.recv(65536)
                    if data:
                        try:
                            s.send(data)       # BUG: may send only part of data
                        except BlockingIOError:
                            pass
                        continue
                    print(addr, "disconnected")
                except ConnectionResetError:
                    print(addr, "disconnected (reset)")
                sel.unregister(s)
                s.close()
    except KeyboardInterrupt:
        print("stopping")
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


if __name__ == "__main__":
    main()
