#!/usr/bin/env python3
"""A room viewer with Python websockets' default permessage-deflate receives room messages compressed.

Usage: deflate_room.py VIEWER_URL CONNECTOR_URL   (ws://127.0.0.1:PORT/ws?token=…, compression on)

websockets offers permessage-deflate by default. The script records the RSV1 bit of every
frame the viewer's extension decodes (a wrapper around the extension's decode), has the
connector place three paid orders, and checks that the viewer's stock messages arrived
compressed and decode to JSON. Prints one line per check; exits 0 only if all pass.
"""
import asyncio
import json
import sys

try:
    from websockets.asyncio.client import connect
    from websockets.extensions import permessage_deflate
except ImportError:  # pragma: no cover - explained to the user
    print("deflate: the 'websockets' package is missing: python3 -m pip install websockets==17.4")
    sys.exit(2)

compressed_frames = 0
original_decode = permessage_deflate.PerMessageDeflate.decode


def counting_decode(self, frame, *, max_size=None):
    global compressed_frames
    if frame.rsv1:
        compressed_frames += 1
    return original_decode(self, frame, max_size=max_size)


permessage_deflate.PerMessageDeflate.decode = counting_decode


async def main(viewer_url, connector_url):
    failures = 0

    def check(name, ok, detail=""):
        nonlocal failures
        print(f"deflate: {'ok  ' if ok else 'FAIL'} {name}{(': ' + detail) if detail and not ok else ''}")
        if not ok:
            failures += 1

    async with asyncio.timeout(30):
        async with connect(viewer_url, ping_interval=None) as viewer, \
                connect(connector_url, ping_interval=None, compression=None) as connector:
            header = viewer.response.headers.get("Sec-WebSocket-Extensions", "")
            check("negotiated permessage-deflate", header.startswith("permessage-deflate"), header)
            check("server_no_context_takeover", "server_no_context_takeover" in header, header)
            snapshot = json.loads(await viewer.recv())
            check("snapshot", snapshot.get("type") == "snapshot", str(snapshot)[:80])
            await connector.recv()  # the connector's snapshot
            before = compressed_frames
            stocks = []
            for index in range(3):
                await connector.send(json.dumps({"type": "order", "orderId": f"PY-{index}", "sku": "hoodie",
                                                 "qty": 1, "state": "paid"}))
                while True:
                    message = json.loads(await viewer.recv())
                    if message.get("type") == "stock":
                        stocks.append(message)
                        break
            check("three stock messages", [m.get("sku") for m in stocks] == ["hoodie"] * 3, str(stocks)[:120])
            check("sellable counts down", [m.get("sellable") for m in stocks] == [9, 8, 7],
                  str([m.get("sellable") for m in stocks]))
            check("stock messages arrived compressed (RSV1)", compressed_frames - before >= 3,
                  f"{compressed_frames - before} compressed frames")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(1 if asyncio.run(main(sys.argv[1], sys.argv[2])) else 0)
