"""Upload server with asyncio streams."""
import asyncio
import hashlib
import signal
import sys


async def handle(reader, writer):
    peer = writer.get_extra_info("peername")
    total, digest = 0, hashlib.sha256()
    try:
        while True:
            block = await reader.read(65536)
            if not block:                 # EOF: the client did shutdown(SHUT_WR)
                break
            total += len(block)
            digest.update(block)
        writer.write(f"{total} {digest.hexdigest()}\n".encode())
        await writer.drain()
        print(f"{peer}: {total} bytes received")
    except OSError as exc:
        print(f"{peer}: {exc}")
    except asyncio.CancelledError:
        # The server is stopping. Ending normally keeps Python 3.11's streams
        # from logging "Exception in callback ... CancelledError".
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def main(port):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle, "0.0.0.0", port, reuse_address=True)
    async with server:
        await stop.wait()
    print("server stopped")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7788))
