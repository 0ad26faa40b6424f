#!/usr/bin/env python3
"""Ctrl-C check: the livegate binary, sent SIGINT with WebSockets open, closes each with
1001 Going Away and exits 0.

Usage: sigint_check.py PATH/TO/livegate

Starts the binary on 127.0.0.1 with a free port, opens three WebSockets on /echo, sends
SIGINT, and checks the close codes and the exit status. Bounded: 30 s in all.
"""
import asyncio
import re
import signal
import subprocess
import sys

from websockets.asyncio.client import connect
import websockets


async def main(binary):
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--echo"],
                            stderr=subprocess.PIPE, text=True)
    failures = 0
    try:
        port = None
        lines = []
        for _ in range(50):
            line = proc.stderr.readline()
            lines.append(line)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        if port is None:
            print("sigint: FAIL the server did not report its port:\n" + "".join(lines))
            return 1
        sockets = [await connect(f"ws://127.0.0.1:{port}/echo", ping_interval=None) for _ in range(3)]
        for ws in sockets:
            await ws.send("before")
            assert await ws.recv() == "before"
        proc.send_signal(signal.SIGINT)
        for index, ws in enumerate(sockets):
            try:
                async with asyncio.timeout(10):
                    await ws.recv()
                print(f"sigint: FAIL socket {index} got a message instead of a close")
                failures += 1
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                ok = code == 1001
                print(f"sigint: {'ok  ' if ok else 'FAIL'} socket {index} closed with {code}")
                failures += 0 if ok else 1
        status = proc.wait(timeout=15)
        print(f"sigint: {'ok  ' if status == 0 else 'FAIL'} exit status {status}")
        failures += 0 if status == 0 else 1
        rest = proc.stderr.read()
        ok = "SIGINT received" in rest and "stopped" in rest
        print(f"sigint: {'ok  ' if ok else 'FAIL'} shutdown logged")
        failures += 0 if ok else 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"sigint: {5 - failures} passed, {failures} failed")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(1 if asyncio.run(main(sys.argv[1])) else 0)
