#!/usr/bin/env python3
"""End-to-end check of livegate's /echo with a real third-party client (Python websockets).

Usage: e2e_websockets.py ws://127.0.0.1:PORT/echo
       e2e_websockets.py wss://127.0.0.1:PORT/echo CA.pem   (TLS, trusting the test's own CA)

Exchanges text and binary messages (a 16 MiB one included), pings, and closes cleanly.
Prints one line per check and exits 0 only if all pass. Bounded: every step has a timeout.
"""
import asyncio
import os
import ssl
import sys

try:
    import websockets
    from websockets.asyncio.client import connect
except ImportError:  # pragma: no cover - explained to the user
    print("e2e: the 'websockets' package is missing: python3 -m pip install websockets==17.4")
    sys.exit(2)


async def main(url, cafile=None):
    failures = 0
    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    extra = {"ssl": tls} if tls else {}

    def check(name, ok, detail=""):
        nonlocal failures
        print(f"e2e: {'ok  ' if ok else 'FAIL'} {name}{(': ' + detail) if detail and not ok else ''}")
        if not ok:
            failures += 1

    async with asyncio.timeout(60):
        async with connect(url, max_size=None, compression=None, ping_interval=None, **extra) as ws:
            await ws.send("héllo, 直播间")
            reply = await ws.recv()
            check("text echo", reply == "héllo, 直播间", repr(reply))

            payload = os.urandom(1000)
            await ws.send(payload)
            reply = await ws.recv()
            check("binary echo", reply == payload)

            await ws.send(["frag", "mented"])  # a fragmented text message
            reply = await ws.recv()
            check("fragmented message", reply == "fragmented", repr(reply))

            latency = await (await ws.ping(b"livegate"))
            check("ping answered", latency >= 0)

            big = os.urandom(16 * 1024 * 1024)
            await ws.send(big)
            reply = await ws.recv()
            check("16 MiB message intact", reply == big, f"got {len(reply)} bytes")

            await ws.close(code=1000, reason="done")
        check("clean close", ws.close_code == 1000,
              f"code={ws.close_code} reason={ws.close_reason!r}")

        # A message over the endpoint's limit is refused with 1009, not buffered.
        ws = await connect(url, max_size=None, compression=None, ping_interval=None, **extra)
        try:
            await ws.send(b"x" * (16 * 1024 * 1024 + 1))
            await ws.recv()
            check("oversized message refused", False, "got a reply")
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            check("oversized message refused with 1009", code == 1009, f"code={code}")
        await ws.wait_closed()

    print(f"e2e: {5 + 2 - failures} passed, {failures} failed")
    return failures


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        sys.exit(2)
    sys.exit(1 if asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)) else 0)
