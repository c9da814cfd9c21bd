import asyncio
import sys


async def run(ip, port):
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except ConnectionRefusedError:
        print("Error: connection refused by", ip, port)
        return 1
    message = input("message> ")
    writer.write(message.encode("utf-8"))
    await writer.drain()
    reply = await reader.read()   # until EOF
    writer.close()
    await writer.wait_closed()
    print(reply.decode("utf-8"))
    return 0


def main():
    ip = input("ip> ")
    port = int(input("port> "))
    return asyncio.run(run(ip, port))


if __name__ == "__main__":
    sys.exit(main())
