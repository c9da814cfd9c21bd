"""Keepalive echo server with asyncio streams.

The keepalive options go on the socket under the transport
(writer.get_extra_info("socket")). When the probes find the peer dead,
reader.read() raises TimeoutError.
"""
import asyncio
import signal
import socket
import sys


async def echo(reader, writer):
    peer = writer.get_extra_info("peername")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    try:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        print(peer, "disconnected")
    except TimeoutError:
        print(peer, "timed out (keepalive)")
    except OSError as exc:
        print(peer, "disconnected:", exc)
    except asyncio.CancelledError:
        pass     # server stopping; end quietly (Python 3.11 would log it)
    finally:
        writer.close()


async def main(port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(echo, port=port, family=socket.AF_INET,
                                        reuse_address=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7788))
