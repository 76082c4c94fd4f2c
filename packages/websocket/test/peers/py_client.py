"""Python `websockets` client peer for interop-python.test.ts.

Usage: /usr/bin/python3 py_client.py URL [--deflate]
Against an echo server: sends text and binary messages of sizes 0 B to
16 MiB and a fragmented one, checks every echo (content and type), pings
and waits for the pong, then closes with 4006 "python client bye". Prints
one JSON line: ok, the negotiated extensions, what failed, and the close
code/reason it got back. Exit status 0 when everything matched.
"""
import asyncio
import json
import sys

import websockets

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]


def payload(n, seed):
    unit = bytes((seed + i * 7) % 251 for i in range(251))
    return (unit * (n // len(unit) + 1))[:n]


def text_of(n, seed):
    unit = "".join(chr(32 + (seed + i * 7) % 95) for i in range(95))
    return (unit * (n // len(unit) + 1))[:n]


async def main():
    url = sys.argv[1]
    compression = "deflate" if "--deflate" in sys.argv[2:] else None
    failures = []
    async with websockets.connect(url, compression=compression, max_size=None) as ws:
        exts = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
        for n in SIZES:
            text = text_of(n, 1)
            await ws.send(text)
            got = await ws.recv()
            if not isinstance(got, str) or got != text:
                failures.append(f"text {n}")
            data = payload(n, 2)
            await ws.send(data)
            got = await ws.recv()
            if not isinstance(got, bytes) or got != data:
                failures.append(f"binary {n}")
        # A fragmented text message: websockets sends an iterable as fragments.
        await ws.send(["frag", "men", "ted"])
        if await ws.recv() != "fragmented":
            failures.append("fragmented")
        pong = await ws.ping(b"py-client-ping")
        await asyncio.wait_for(pong, 10)
        await ws.close(4006, "python client bye")
        code, reason = ws.close_code, ws.close_reason
    print(json.dumps({"ok": not failures, "failures": failures, "extensions": exts, "code": code, "reason": reason}),
          flush=True)
    sys.exit(0 if not failures else 1)


asyncio.run(main())
