#!/usr/bin/env python3
"""Memory bound per slow viewer: what N viewers that never read cost the server.

Usage: slow_viewer_memory.py PATH/TO/livegate [--viewers 1000] [--events 6000] [--config Config/livegate.json5]

Starts the binary on 127.0.0.1 (one I/O loop, a fresh temporary data directory), connects
N viewers of room "demo" with a 4 KiB receive buffer that send the upgrade and then never
read a byte, and one operator (Python websockets) that sends `announce` events of 120
characters (about 500 bytes each on the wire) until every stuck viewer's queue has passed the
configured hard budget. It prints the server's RSS before the viewers, with them, its peak
(VmHWM) during the flood, and after, per viewer, and how many viewers were closed (the
hard budget) — the figures the README quotes. Bounded: 120 s; stops its server by PID.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings

from websockets.sync.client import connect

warnings.filterwarnings("ignore", category=DeprecationWarning)  # connect() outside a with block


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--config", default="Config/livegate.json5")
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="livegate-slow.")
    proc = subprocess.Popen([args.binary, "--config", args.config, "--host", "127.0.0.1", "--port", "0",
                             "--io-threads", "1", "--data-dir", data, "--log-level", "info"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        port = None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
        if port is None:
            print("slow_viewer_memory: the server did not report its port")
            return 2
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # drain its log

        def token(role):
            return subprocess.run([args.binary, "token", "--config", args.config, "--room", "demo", "--role", role,
                                   "--sub", "memcheck"], check=True, capture_output=True, text=True).stdout.strip()

        viewer, operator = token("viewer"), token("operator")
        time.sleep(0.5)
        before = status(proc.pid)["VmRSS"]
        request = (f"GET /ws?token={viewer} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        stuck = []
        for _ in range(args.viewers):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            s.sendall(request)
            stuck.append(s)
        op = connect(f"ws://127.0.0.1:{port}/ws?token={operator}", max_size=None, ping_interval=None)
        op.recv(timeout=10)  # the snapshot: every viewer's upgrade before it has been answered
        time.sleep(0.5)
        connected = status(proc.pid)["VmRSS"]
        text = "抢" * 120  # danmaku.maxCharacters in the default config
        for index in range(args.events):
            op.send('{"type":"announce","id":"m%d","text":"%s"}' % (index, text))
            while True:  # the operator's own copy and the result; the priority lane is never held back
                message = op.recv(timeout=10)
                if '"type":"result"' in message:
                    break
                if '"type":"error"' in message:
                    raise SystemExit(f"announce refused: {message[:300]}")
        time.sleep(0.5)
        flooded = status(proc.pid)
        # How many stuck viewers are still open (the rest were closed by the hard budget, 1013).
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        match = re.search(r'livegate_room_connections\{role="viewer"\} (\d+)', metrics)
        closed = args.viewers - int(match.group(1)) if match else -1
        op.close()
        n = args.viewers
        print(f"viewers {n}, events {args.events} x {len(text.encode())} B")
        print(f"server RSS: before {before / 1024:.0f} KiB, {n} stuck viewers connected {connected / 1024:.0f} KiB "
              f"({(connected - before) / n:.0f} B each)")
        print(f"during the flood: peak {flooded['VmHWM'] / 1024:.0f} KiB ({(flooded['VmHWM'] - connected) / n:.0f} B "
              f"per stuck viewer above connected), after {flooded['VmRSS'] / 1024:.0f} KiB")
        print(f"closed by the hard budget (1013): {closed} of {n}")
        return 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    sys.exit(main())
