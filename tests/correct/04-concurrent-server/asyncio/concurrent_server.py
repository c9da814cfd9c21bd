# asyncio style: asyncio.start_server, one task per client.
import asyncio
import signal
import sys

clients = {}   # task -> writer, for every client being served


async def echo(reader, writer):
    host, port = writer.get_extra_info("peername")[:2]
    clients[asyncio.current_task()] = writer
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
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
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(echo, "127.0.0.1", port, reuse_address=True)
    print(f"serving on 127.0.0.1:{port}")
    await stop.wait()
    server.close()
    # Close every client connection and let its task end by itself (read()
    # returns b''). Leaving the tasks to be cancelled by asyncio.run() would
    # make Python 3.11's start_server log a CancelledError traceback.
    for writer in clients.values():
        writer.close()
    if clients:
        await asyncio.wait(list(clients), timeout=1)
    print("server stopped")


if __name__ == "__main__":
    asyncio.run(main())
