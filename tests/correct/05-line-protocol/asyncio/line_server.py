# asyncio style: StreamReader.readline() with a raised line limit (the default is 64 KiB).
import asyncio
import signal
import sys

LINE_LIMIT = 1 << 20
clients = {}   # task -> writer


def reply_to(line):
    cmd, _, arg = line.partition(" ")
    if cmd == "ECHO":
        return arg
    if cmd == "UPPER":
        return arg.upper()
    if cmd == "ADD":
        try:
            a, b = arg.split()
            return str(int(a) + int(b))
        except ValueError:
            return "ERR ADD takes two integers"
    if cmd == "QUIT":
        return "BYE"
    return "ERR unknown command"


async def session(reader, writer):
    host, port = writer.get_extra_info("peername")[:2]
    clients[asyncio.current_task()] = writer
    try:
        while True:
            try:
                raw = await reader.readline()
            except ValueError:            # a line longer than LINE_LIMIT
                writer.write(b"ERR line too long\n")
                break
            if not raw.endswith(b"\n"):   # end of stream (maybe mid-line)
                break
            line = raw[:-1].decode("utf-8", "replace").rstrip("\r")
            writer.write((reply_to(line) + "\n").encode("utf-8"))
            await writer.drain()
            if line == "QUIT":
                break
    except ConnectionError:
        pass
    finally:
        del clients[asyncio.current_task()]
        writer.close()
        print(f"{host}:{port} disconnected")


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(session, "0.0.0.0", port, limit=LINE_LIMIT,
                                        reuse_address=True)
    print(f"serving on port {port}")
    await stop.wait()
    server.close()
    for writer in clients.values():
        writer.close()
    if clients:
        # let the sessions end by themselves (Python 3.11 logs a traceback
        # for start_server tasks that asyncio.run() has to cancel)
        await asyncio.wait(list(clients), timeout=1)
    print("stopped")


if __name__ == "__main__":
    asyncio.run(main())
