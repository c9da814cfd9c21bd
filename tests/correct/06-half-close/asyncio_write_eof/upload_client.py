import asyncio
import sys


async def upload(ip, port, path):
    try:
        f = open(path, "rb")
    except OSError as e:
        print("error:", e)
        return 1
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError as e:
        print("error: cannot connect:", e)
        f.close()
        return 1
    with f:
        while chunk := f.read(32768):
            writer.write(chunk)
            await writer.drain()
    writer.write_eof()            # shutdown(SHUT_WR)
    reply = await reader.read()   # until the server closes
    writer.close()
    await writer.wait_closed()
    print(reply.decode().strip())
    return 0


def main():
    ip = input()
    port = int(input())
    path = input()
    return asyncio.run(upload(ip, port, path))


if __name__ == "__main__":
    sys.exit(main())
