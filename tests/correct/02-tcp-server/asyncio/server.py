import asyncio
import socket
import sys


async def main(port):
    done = asyncio.Event()

    async def handle(reader, writer):
        try:
            data = await reader.read(1024)
            if data:
                print(data.decode("utf-8"))
                writer.write("thank you !".encode("utf-8"))
                await writer.drain()
            else:
                print("(empty client)")
        finally:
            writer.close()
            await writer.wait_closed()
            done.set()

    server = await asyncio.start_server(handle, "0.0.0.0", port, reuse_address=True)
    async with server:
        await done.wait()
    # server closed here


port = int(sys.argv[1]) if len(sys.argv) > 1 else 7788
asyncio.run(main(port))
