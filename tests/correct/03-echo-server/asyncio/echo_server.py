# Style: asyncio streams; SIGINT and SIGTERM set an event that ends main().
import asyncio
import signal
import sys

clients = {}  # writer -> the task serving that client


async def echo(reader, writer):
    peer = writer.get_extra_info("peername")
    clients[writer] = asyncio.current_task()
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        print(f"{peer} disconnected")
    except ConnectionError:
        print(f"{peer} disconnected (connection reset)")
    finally:
        del clients[writer]
        writer.close()


async def main(port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(echo, "0.0.0.0", port, reuse_address=True)
    print(f"serving on port {port}")
    async with server:  # on exit: close the listening socket, wait for it
        await stop.wait()
        server.close()
        # Connected clients must not keep us alive: closing a transport ends
        # its reader with EOF, so each handler finishes normally (a cancelled
        # handler would be reported as an error by asyncio).
        tasks = list(clients.values())
        for writer in list(clients):
            writer.close()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=0.5)
            for writer in list(clients):  # still flushing to a client that does not read
                writer.transport.abort()
            if stuck:
                await asyncio.wait(stuck, timeout=0.5)
    print("bye")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7788))
