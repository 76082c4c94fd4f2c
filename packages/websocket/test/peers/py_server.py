"""Python `websockets` server peer for interop-python.test.ts.

Usage: /usr/bin/python3 py_server.py [--deflate]
Listens on 127.0.0.1 (ephemeral port), prints "READY <port>", then one JSON
line per finished connection: the path, the negotiated extensions, the
number of messages echoed and the close code/reason it received. What it
does depends on the request path:
  /echo   echoes every message with its type until the peer closes
  /ping   pings the client ("py-ping"), waits for the pong, sends "pong-ok", then echoes
  /close  closes at once with 4005 "python server bye"
Exits when stdin closes.
"""
import asyncio
import json
import sys

import websockets

DEFLATE = "--deflate" in sys.argv[1:]


async def handler(ws, path=None):
    path = path if path is not None else ws.path
    exts = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
    echoed = 0
    error = None
    try:
        if path.startswith("/ping"):
            pong = await ws.ping(b"py-ping")
            await asyncio.wait_for(pong, 10)
            await ws.send("pong-ok")
        if path.startswith("/close"):
            await ws.close(4005, "python server bye")
        else:
            async for msg in ws:
                await ws.send(msg)
                echoed += 1
    except websockets.ConnectionClosed:
        pass
    except Exception as e:  # reported to the test, which fails on it
        error = repr(e)
    await ws.wait_closed()
    print(json.dumps({
        "path": path,
        "extensions": exts,
        "echoed": echoed,
        "code": ws.close_code,
        "reason": ws.close_reason,
        "error": error,
    }), flush=True)


async def main():
    compression = "deflate" if DEFLATE else None
    async with websockets.serve(handler, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        loop = asyncio.get_running_loop()
        # Stop when the test closes our stdin (or dies).
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
