"""Time server with asyncio: start_server, one coroutine per client, signals as events."""

import asyncio
import signal
import sys
import time


async def serve(reader, writer):
    writer.write(time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime()).encode())
    try:
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass


async def main(port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(serve, "", port)  # SO_REUSEADDR on POSIX
    async with server:
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7788)))
