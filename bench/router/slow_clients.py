"""Opens N connections that each trickle a POST body at about RATE bytes/s, for SECONDS, then exit.

usage: slow_clients.py HOST PORT HOSTHEADER N BODY_BYTES RATE SECONDS
Loopback only; every loop is bounded by SECONDS.
"""

import asyncio
import sys
import time


async def one(host, port, host_header, body_bytes, rate, deadline, stats):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats["connect_errors"] += 1
        return
    head = (
        f"POST /upload HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {body_bytes}\r\n\r\n"
    )
    writer.write(head.encode())
    piece = max(1, rate // 10)
    sent = 0
    try:
        while sent < body_bytes and time.monotonic() < deadline:
            n = min(piece, body_bytes - sent)
            writer.write(b"s" * n)
            await writer.drain()
            sent += n
            await asyncio.sleep(0.1)
        if sent == body_bytes:
            await asyncio.wait_for(reader.read(100), timeout=max(0.1, deadline - time.monotonic()))
            stats["completed"] += 1
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def main():
    host, port, host_header = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    n, body_bytes, rate, seconds = (int(x) for x in sys.argv[4:8])
    deadline = time.monotonic() + seconds
    stats = {"connect_errors": 0, "completed": 0}
    await asyncio.gather(*(one(host, port, host_header, body_bytes, rate, deadline, stats) for _ in range(n)))
    print(f"slow clients: {n} opened, {stats['completed']} completed, {stats['connect_errors']} connect errors",
          file=sys.stderr)


asyncio.run(main())
