"""Browser tests of livegate's pages: /console, /host, /overlay in headless Chromium.

Run through Tests/browser/run.sh. Starts the gateway binary on a free loopback port with a
temporary data directory, mints tokens with `livegate token`, opens the three pages in one
headless Chromium (Debian's /usr/bin/chromium driven by Playwright), and checks them against
the live gateway. Every wait is bounded (wait_for_function with a timeout, never a sleep).
Console errors and page errors fail the check they happen in. Screenshots at 1280x720 go to
--artifacts.

Checks that need the alert engine (system replies to viewers, banners) are reported as XFAIL
while the gateway does not send those messages, and as XPASS once it does: then make them
strict with --strict-alerts.

The last line is "N passed, N failed, N xfail, N xpass"; exit status 1 when any failed.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright
from websockets.sync.client import connect as ws_connect

CHROMIUM = "/usr/bin/chromium"
ROOM = "demo"
FEATURED = "hoodie-cobrand"       # the demo room's featured SKU (Config/livegate.json5)
SUBSTITUTE = "hoodie-regular"     # its substitute
VIEWPORT = {"width": 1280, "height": 720}
WAIT_MS = 10_000                  # bound of every page wait (a busy 2-core machine doubles times)
UPDATE_BUDGET_S = 1.0             # an order must show on the pages within this


class CheckFailed(Exception):
    pass


class XFail(Exception):
    """A check of something the gateway does not send yet (documented as coming)."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def png_alpha_max(path):
    """The largest alpha value in an RGBA PNG (8-bit, not interlaced): 0 means fully transparent."""
    import struct
    import zlib
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, width, height, colour, depth = 8, b"", 0, 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    if colour != 6 or depth != 8:
        raise CheckFailed(f"screenshot is not 8-bit RGBA (colour type {colour}, depth {depth})")
    raw, bpp, stride = zlib.decompress(idat), 4, width * 4
    prev, out, i, alpha = bytearray(stride), 0, 0, 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        alpha = max(alpha, max(line[3::4]))
        prev = line
    return alpha

class Gateway:
    """The livegate process under test: started, killed and restarted by PID."""

    def __init__(self, binary, config, data_dir, port, log_path, extra_args=()):
        self.binary, self.config, self.data_dir, self.port = binary, config, data_dir, port
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, seconds=15):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config, "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", self.data_dir, "--io-threads", "1", "--log-level", "info", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"livegate exited with {self.proc.returncode} (log: {self.log_path})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"livegate not listening on {self.port} after {seconds}s")
        # ready: the stock core takes commands
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("livegate not ready")

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Suite:
    def __init__(self, args):
        self.args = args
        self.artifacts = args.artifacts
        self.data_dir = tempfile.mkdtemp(prefix="livegate-browser-data.")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # A TLS listener beside the plain one, with a self-signed certificate made for this run.
        self.tls_port = free_port()
        cert, key = os.path.join(self.data_dir, "test-cert.pem"), os.path.join(self.data_dir, "test-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        self.gateway = Gateway(args.bin, args.config, self.data_dir, self.port,
                               os.path.join(self.artifacts, "livegate.log"),
                               ["--tls-port", str(self.tls_port), "--tls-cert", cert, "--tls-key", key,
                                # permessage-deflate on for every message: the pages run with it throughout
                                "--compression", "on", "--compression-min", "0"])
        self.results = []             # (name, status, detail)
        self.errors = []              # (page, text) console errors and page errors
        self.allowed = []             # regexes of console errors expected right now
        self.frames = {}              # page name -> list of received message types
        self.order_no = 0
        self.series_404 = 0

    # ---------- setup ----------
    def token(self, role, sub, channel=None, ttl=None, room=ROOM):
        cmd = [self.args.bin, "token", "--config", self.args.config, "--room", room, "--role", role, "--sub", sub]
        if channel:
            cmd += ["--channel", channel]
        if ttl:
            cmd += ["--ttl", str(ttl)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=20)
        return out.stdout.strip()

    def http(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stock(self):
        status, body = self.http("GET", f"/v1/rooms/{ROOM}/stock", token=self.tokens["operator"])
        if status != 200:
            raise CheckFailed(f"GET stock: {status} {body[:200]!r}")
        return {s["sku"]: s for s in json.loads(body)["skus"]}

    def order(self, sku, qty, state="paid"):
        self.order_no += 1
        order = {"orderId": f"BT-{os.getpid()}-{self.order_no}", "channel": "taobao", "sku": sku, "qty": qty,
                 "state": state, "ts": int(time.time() * 1000)}
        status, body = self.http("POST", "/v1/orders", order, token=self.tokens["connector"])
        if status != 200:
            raise CheckFailed(f"POST /v1/orders: {status} {body[:200]!r}")
        result = json.loads(body)["results"][0]
        if not result["ok"]:
            raise CheckFailed(f"order refused: {result}")
        return result

    def open_page(self, context, name, path):
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        self.frames[name] = []

        def on_console(msg, name=name):
            if msg.type != "error":
                return
            text = msg.text
            where = (msg.location or {}).get("url", "")
            if any(re.search(p, text + " " + where) for p in self.allowed):
                return
            # Until the gateway serves the series endpoint, the console's one probe of it is a 404:
            # the console then draws its charts from the snapshot and the live messages.
            if re.search(r"status of 404", text) and re.search(r"/v1/rooms/[^/?]+/series\?", where):
                self.series_404 += 1
                return
            self.errors.append((name, f"console error: {text} ({where})"))

        def on_ws(ws, name=name):
            def on_frame(payload, name=name):
                try:
                    self.frames[name].append(json.loads(payload).get("type"))
                except (ValueError, AttributeError):
                    pass
            ws.on("framereceived", on_frame)

        page.on("console", on_console)
        page.on("pageerror", lambda e, name=name: self.errors.append((name, f"page error: {e}")))
        page.on("websocket", on_ws)
        page.goto(self.base + path)
        return page

    # ---------- helpers on pages ----------
    def wait(self, page, predicate, arg=None, timeout=WAIT_MS, what=""):
        try:
            # Poll on a timer: Playwright's default polls on animation frames, which headless
            # Chromium does not produce for the pages that are not in front.
            page.wait_for_function(predicate, arg=arg, timeout=timeout, polling=25)
        except Exception as e:           # Playwright's TimeoutError
            raise CheckFailed(f"{what or predicate!s}: {str(e).splitlines()[0]}") from None

    CONSOLE_SELLABLE = "([sku, v]) => { const e = document.querySelector(`tr[data-sku='${sku}'] td.sellable`); " \
                       "return e && e.textContent.replace(/,/g, '') === String(v); }"
    HOST_FIGURE = "([sku, v]) => { const e = document.querySelector(`.prompt[data-sku='${sku}'] .figure`); " \
                  "return e && e.dataset.value === String(v); }"
    CONN_TEXT = "(t) => { const e = document.getElementById('conn'); return e && e.textContent === t; }"

    def figures_equal(self, sku, sellable, budget=None, what=""):
        """Waits until console and teleprompter show `sellable` for sku; returns seconds taken."""
        start = time.monotonic()
        self.wait(self.console, self.CONSOLE_SELLABLE, [sku, sellable], what=f"console shows {sellable} for {sku} {what}")
        if sku == FEATURED:
            self.wait(self.host, self.HOST_FIGURE, [sku, sellable], what=f"teleprompter shows {sellable} {what}")
        took = time.monotonic() - start
        if budget is not None and took > budget:
            raise CheckFailed(f"pages took {took:.2f}s to show {sellable} for {sku} (budget {budget}s) {what}")
        return took

    def shot(self, page, name, omit_background=False):
        path = os.path.join(self.artifacts, name)
        page.screenshot(path=path, omit_background=omit_background)
        return path

    # ---------- the checks ----------
    def check_no_token(self):
        """Pages without a token, or with a refused one, say so plainly."""
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            for path, name in (("/console", "console-notoken"), ("/host?preview=1", "host-notoken"),
                               ("/overlay?preview=1", "overlay-notoken")):
                page = self.open_page(ctx, name, path)
                self.wait(page, "() => document.body.classList.contains('blocked') && "
                                "document.getElementById('notice').textContent.includes('A token is needed')",
                          what=f"{path} without a token shows the notice")
            self.shot(page, "overlay-no-token.png")
            # On air (no preview=1) the overlay and the teleprompter paint no error box.
            for path, name in (("/overlay", "overlay-onair-notoken"), ("/host?token=not.a.token", "host-onair-badtoken")):
                page = self.open_page(ctx, name, path)
                self.wait(page, "() => ['notoken', 'refused'].includes(document.documentElement.dataset.conn)",
                          what=f"{path} knows it cannot connect")
                if page.evaluate("() => document.body.classList.contains('blocked')"):
                    raise CheckFailed(f"{path} (on air) shows the error box")
            page = self.open_page(ctx, "console-badtoken", "/console?token=not.a.token")
            self.wait(page, "() => document.body.classList.contains('blocked') && "
                            "document.getElementById('notice').textContent.includes('was refused')",
                      what="/console with a bad token says it was refused")
            self.shot(page, "console-bad-token.png")
        finally:
            ctx.close()

    def check_initial(self):
        """The three pages connect and show the room's figures."""
        truth = self.stock()
        for sku, s in truth.items():
            self.wait(self.console, self.CONSOLE_SELLABLE, [sku, s["sellable"]], what=f"console shows {sku}")
        self.wait(self.host, self.HOST_FIGURE, [FEATURED, truth[FEATURED]["sellable"]], what="teleprompter figure")
        for page in (self.console, self.host):
            self.wait(page, self.CONN_TEXT, "live", what="connection state 'live' is shown")
        self.wait(self.overlay, "() => document.documentElement.dataset.conn === 'live'", what="overlay connected")
        rate = self.console.text_content(f"tr[data-sku='{FEATURED}'] td.rate")
        if truth[FEATURED]["ratePerMin"] is None and rate != "—":
            raise CheckFailed(f"rate shown as {rate!r} while the server sends null")

    def metric(self, name):
        status, body = self.http("GET", "/metrics")
        if status != 200:
            raise CheckFailed(f"GET /metrics: {status}")
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise CheckFailed(f"/metrics has no {name}")

    def check_deflate(self):
        """Chromium offers permessage-deflate, the gateway accepts it, and room messages go out compressed."""
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            handshakes = []
            cdp.on("Network.webSocketWillSendHandshakeRequest", lambda e: handshakes.append(("request", e["request"]["headers"])))
            cdp.on("Network.webSocketHandshakeResponseReceived", lambda e: handshakes.append(("response", e["response"]["headers"])))
            page.goto(self.base + "/overlay?token=" + self.tokens["viewer"])
            self.wait(page, "() => document.documentElement.dataset.conn === 'live'", what="overlay connected")
            def extension(kind):
                for k, headers in handshakes:
                    if k == kind:
                        for key, value in headers.items():
                            if key.lower() == "sec-websocket-extensions":
                                return value
                return ""
            offered, accepted = extension("request"), extension("response")
            self.note(f"Chromium offered {offered!r}; the gateway answered {accepted!r}")
            if "permessage-deflate" not in offered:
                raise CheckFailed(f"Chromium did not offer permessage-deflate: {offered!r}")
            if not accepted.startswith("permessage-deflate"):
                raise CheckFailed(f"the gateway did not accept permessage-deflate: {accepted!r}")
            if self.metric("livegate_deflate_connections") < 1:
                raise CheckFailed("no connection with permessage-deflate in /metrics")
            before = self.metric("livegate_messages_deflated_total")
            self.order(FEATURED, 1)
            deadline = time.monotonic() + 5
            while self.metric("livegate_messages_deflated_total") <= before:
                if time.monotonic() > deadline:
                    raise CheckFailed("an order's room messages were not compressed")
                time.sleep(0.05)
            self.figures_equal(FEATURED, self.stock()[FEATURED]["sellable"])
        finally:
            ctx.close()

    def check_order(self):
        """An order over HTTP shows on console (figure and chart) and teleprompter within 1 s."""
        before = self.stock()[FEATURED]["sellable"]
        start = time.monotonic()
        wall = time.time()
        self.order(FEATURED, 3)
        answered = time.monotonic() - start
        self.figures_equal(FEATURED, before - 3)
        took = time.monotonic() - start
        st = self.console.evaluate("() => [window.__lgConsole.stats.lastArrivalWall, window.__lgConsole.stats.lastRenderWall]")
        self.note(f"console: message arrived at +{st[0] - wall * 1000:.0f} ms, rendered at +{st[1] - wall * 1000:.0f} ms")
        self.note(f"POST answered in {answered * 1000:.0f} ms (after the journal write); pages updated at {took * 1000:.0f} ms")
        if took > UPDATE_BUDGET_S:
            raise CheckFailed(f"order took {took:.2f}s to reach the pages (budget {UPDATE_BUDGET_S}s; "
                              f"the POST itself took {answered:.2f}s)")
        last = self.console.evaluate(
            "(sku) => { const p = window.__lgConsole.skus.get(sku).chart.pts; return p[p.length - 1][1]; }", FEATURED)
        if last != before - 3:
            raise CheckFailed(f"chart's last point is {last}, expected {before - 3}")

    def check_https_console(self):
        """The console over https:// (the run's self-signed certificate) connects with wss:// and
        shows an order placed over the plain listener."""
        ctx = self.browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
        try:
            urls = []
            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("websocket", lambda ws: urls.append(ws.url))
            page.on("pageerror", lambda e: self.errors.append(("https console", f"page error: {e}")))
            page.goto(f"https://127.0.0.1:{self.tls_port}/console?token=" + self.tokens["operator"])
            before = self.stock()[FEATURED]["sellable"]
            self.wait(page, self.CONSOLE_SELLABLE, [FEATURED, before], what="https console shows the figure")
            self.wait(page, self.CONN_TEXT, "live", what="https console is live")
            if not urls or not all(u.startswith(f"wss://127.0.0.1:{self.tls_port}/") for u in urls):
                raise CheckFailed(f"expected wss:// sockets to the TLS port, saw {urls}")
            self.order(FEATURED, 1)
            self.wait(page, self.CONSOLE_SELLABLE, [FEATURED, before - 1], what="https console shows the order")
            self.note(f"console over https, socket {urls[0].split('?')[0]}")
        finally:
            ctx.close()

    def check_restock_click(self):
        """Clicking Restock on the console raises the figure on the pages; the result is shown."""
        before = self.stock()[FEATURED]["sellable"]
        # Chromium throttles animation frames in background tabs, and Playwright's clicks wait
        # for them: act on the front tab (the pages' own updates do not depend on it).
        self.console.bring_to_front()
        self.console.select_option("#cmd-sku", FEATURED)
        self.console.fill("#cmd-qty", "100")
        self.console.click("button[data-cmd='restock']")
        self.wait(self.console, "() => { const li = document.querySelector('#cmd-log li'); "
                                "return li && li.classList.contains('ok') && li.textContent.includes('restock'); }",
                  what="restock's result shown in the command log")
        self.figures_equal(FEATURED, before + 100, what="after restock")
        # A refused command shows its error: release more than is held.
        self.console.fill("#cmd-qty", "999999")
        self.console.click("button[data-cmd='release']")
        self.wait(self.console, "() => { const li = document.querySelector('#cmd-log li'); "
                                "return li && li.classList.contains('fail') && li.textContent.includes('release'); }",
                  what="a refused release shows as failed in the log")

    def check_teleprompter(self):
        """The figure is >= 15% of the viewport height, and its colour follows the level."""
        size = self.host.evaluate(
            f"() => parseFloat(getComputedStyle(document.querySelector(\".prompt[data-sku='{FEATURED}'] .figure\")).fontSize)")
        if size < 0.15 * VIEWPORT["height"]:
            raise CheckFailed(f"figure font-size {size}px < 15% of {VIEWPORT['height']}px")
        box = self.host.evaluate(
            f"() => document.querySelector(\".prompt[data-sku='{FEATURED}'] .figure\").getBoundingClientRect().height")
        self.note(f"teleprompter figure: font-size {size:.0f}px, box {box:.0f}px of {VIEWPORT['height']}px")
        colour_js = f"() => getComputedStyle(document.querySelector(\".prompt[data-sku='{FEATURED}'] .figure\")).color"
        normal = self.host.evaluate(colour_js)
        self.shot(self.host, "host.png")
        # Hold everything sellable: sold out.
        sellable = self.stock()[FEATURED]["sellable"]
        self.console.bring_to_front()
        self.console.select_option("#cmd-sku", FEATURED)
        self.console.fill("#cmd-qty", str(sellable))
        self.console.click("button[data-cmd='hold']")
        self.figures_equal(FEATURED, 0, what="after holding everything")
        self.wait(self.host, "(sku) => document.querySelector(`.prompt[data-sku='${sku}']`).classList.contains('lv-soldout')",
                  FEATURED, what="teleprompter level soldout")
        soldout = self.host.evaluate(colour_js)
        if soldout == normal:
            raise CheckFailed(f"figure colour {soldout} did not change from normal to soldout")
        sub_visible = self.host.evaluate(
            f"() => {{ const e = document.querySelector(\".prompt[data-sku='{FEATURED}'] .sub\"); "
            "return getComputedStyle(e).display !== 'none' && e.textContent; }")
        if not sub_visible or "regular" not in sub_visible:
            raise CheckFailed(f"substitute not pitched at sold out: {sub_visible!r}")
        self.note(f"figure colour normal {normal} -> soldout {soldout}; substitute: {sub_visible}")
        self.shot(self.host, "host-soldout.png")
        self.shot(self.console, "console-soldout.png")
        self.console.click("button[data-cmd='release']")
        self.figures_equal(FEATURED, sellable, what="after releasing the hold")

    def check_threshold_banner(self):
        """Holding stock down to 20 sellable trips the threshold: the teleprompter's colour changes
        and the overlay shows the server's banner (XFAIL while the gateway sends no `banner`)."""
        sellable = self.stock()[FEATURED]["sellable"]
        keep = 20
        self.console.bring_to_front()
        self.console.select_option("#cmd-sku", FEATURED)
        self.console.fill("#cmd-qty", str(sellable - keep))
        self.console.click("button[data-cmd='hold']")
        try:
            self.figures_equal(FEATURED, keep, what="after holding all but 20")
            level = self.stock()[FEATURED]["level"]
            self.note(f"level at {keep} sellable: {level}")
            try:
                self.overlay.wait_for_function(
                    "() => document.getElementById('banner').classList.contains('show')", timeout=3000, polling=25)
                text = self.overlay.text_content("#banner .text")
                self.note(f"overlay banner: {text}")
                self.shot(self.overlay, "overlay-banner.png", omit_background=True)
                self.shot(self.host, "host-threshold.png")
                self.pending_xpass.append("overlay banner when a threshold trips")
            except Exception:
                self.pending_xfail.append(("overlay banner when a threshold trips",
                                           f"no banner on the overlay within 3 s (level {level}; "
                                           f"{self.frames['overlay'].count('banner')} banner messages received)"))
        finally:
            self.console.fill("#cmd-qty", str(sellable - keep))
            self.console.click("button[data-cmd='release']")
        self.figures_equal(FEATURED, sellable, what="after releasing")

    def check_announce(self):
        """An announcement from the console shows on the overlay, styled as a system message."""
        text = "补货200件,5分钟后开抢"
        self.console.bring_to_front()
        self.console.fill("#ann-text", text)
        self.console.click("button[data-cmd='announce']")
        self.wait(self.overlay, "(t) => [...document.querySelectorAll('#danmaku .dm.system')].some(e => e.textContent.includes(t))",
                  text, what="announcement on the overlay as a system line")

    def check_viewer_danmaku(self):
        """A viewer's danmaku shows on the overlay; the system's reply is set apart (XFAIL for now)."""
        question = "还有货吗"
        system_before = self.overlay.evaluate("() => document.querySelectorAll('#danmaku .dm.system').length")
        url = f"ws://127.0.0.1:{self.port}/ws?token={self.tokens['viewer2']}"
        with ws_connect(url, open_timeout=5, close_timeout=2) as ws:
            snapshot = json.loads(ws.recv(timeout=5))
            if snapshot.get("type") != "snapshot":
                raise CheckFailed(f"viewer got {snapshot.get('type')} first")
            ws.send(json.dumps({"type": "danmaku", "text": question}))
            self.wait(self.overlay, "(t) => [...document.querySelectorAll('#danmaku .dm:not(.system)')].some(e => e.textContent.includes(t))",
                      question, what="viewer's danmaku on the overlay")
            plain = self.overlay.evaluate("() => getComputedStyle(document.querySelector('#danmaku .dm:not(.system)')).backgroundImage + getComputedStyle(document.querySelector('#danmaku .dm:not(.system)')).backgroundColor")
            system = self.overlay.evaluate("() => getComputedStyle(document.querySelector('#danmaku .dm.system')).backgroundImage + getComputedStyle(document.querySelector('#danmaku .dm.system')).backgroundColor")
            if plain == system:
                raise CheckFailed("system and viewer lines look the same")
            # The automatic reply comes with the alert engine.
            try:
                self.overlay.wait_for_function(
                    "(n) => document.querySelectorAll('#danmaku .dm.system').length > n", arg=system_before, timeout=3000)
                self.pending_xpass.append("system reply to 还有货吗 on the overlay")
            except Exception:
                self.pending_xfail.append(("system reply to 还有货吗 on the overlay",
                                           "no system danmaku within 3 s (the alert engine's auto-reply is not in the gateway yet)"))

    # ---------- the operator's workflow in the console ----------
    DIALOG_OPEN = "() => !document.getElementById('dialog').hidden"
    LOG_TOP = ("([what, cls]) => { const li = document.querySelector('#cmd-log li'); "
               "return li && li.classList.contains(cls) && li.textContent.includes(what); }")

    def confirm_dialog(self, page, expect_title, fields=None):
        self.wait(page, self.DIALOG_OPEN, what=f"confirmation dialog for {expect_title}")
        title = page.text_content("#dialog-title")
        if expect_title not in title:
            raise CheckFailed(f"dialog title {title!r}, expected {expect_title!r}")
        for name, value in (fields or {}).items():
            page.fill(f"#dialog-fields [name='{name}']", str(value))
        page.click("#dialog-ok")

    def check_console_switch(self):
        """Switch… from the console (with its confirmation) reaches the host (a 'switch to' hint) and the
        overlay (a banner for the substitute); Undo switch… goes back; a cancelled confirmation sends nothing."""
        c = self.console
        c.bring_to_front()
        c.select_option("#cmd-sku", FEATURED)
        sent_before = self.frames["console"].count("result")
        c.click("button[data-cmd='switch']")
        self.wait(c, self.DIALOG_OPEN, what="switch asks for confirmation")
        body = c.text_content("#dialog-body")
        if "host" not in body or "banner" not in body:
            raise CheckFailed(f"the confirmation does not say what goes on air: {body!r}")
        c.click("#dialog-cancel")
        self.wait(c, "() => document.getElementById('dialog').hidden", what="cancel closes the dialog")
        time.sleep(0.3)
        if self.frames["console"].count("result") != sent_before or self.stock_featured() != FEATURED:
            raise CheckFailed("a cancelled switch was sent")
        c.click("button[data-cmd='switch']")
        self.confirm_dialog(c, "Switch from")
        self.wait(c, self.LOG_TOP, ["switch", "ok"], what="switch's result in the command log")
        self.wait(self.host, "(sku) => { const e = document.querySelector(`.prompt[data-sku='${sku}'] .hint`); "
                             "return e && /switch to/.test(e.textContent); }", SUBSTITUTE,
                  what="the host shows 'switch to' the substitute")
        self.wait(self.overlay, "(sku) => { const b = document.getElementById('banner'); "
                                "return b.classList.contains('show') && b.dataset.sku === sku; }", SUBSTITUTE,
                  what="the overlay shows the substitute's banner")
        self.note(f"host hint: {self.host.text_content(f'.prompt[data-sku={SUBSTITUTE!r}] .hint')}; "
                  f"overlay banner: {self.overlay.text_content('#banner .text')}")
        self.wait(c, "(sku) => document.getElementById('featured').textContent.includes('regular')", SUBSTITUTE,
                  what="the console shows the new featured SKU")
        self.shot(self.host, "host-switch.png")
        c.click("button[data-cmd='undo']")
        self.confirm_dialog(c, "Undo")
        self.wait(c, self.LOG_TOP, ["undo", "ok"], what="undo's result in the command log")
        self.wait(self.host, self.HOST_FIGURE, [FEATURED, self.stock()[FEATURED]["sellable"]], what="the host is back on the featured SKU")
        self.wait(self.overlay, "() => !document.getElementById('banner').classList.contains('show')", what="banner withdrawn")
        # A second undo has nothing to undo: the error is shown.
        c.click("button[data-cmd='undo']")
        self.confirm_dialog(c, "Undo")
        self.wait(c, "() => { const li = document.querySelector('#cmd-log li'); return li && li.classList.contains('fail') && "
                     "/nothing to undo/.test(li.textContent); }", what="'nothing to undo' shown")

    def stock_featured(self):
        status, body = self.http("GET", f"/v1/rooms/{ROOM}/stock", token=self.tokens["operator"])
        return json.loads(body)["featured"]

    def check_console_launch_policy_drain(self):
        """Launch… counts down on the console and opens sales; Policy… refuses an out-of-range value naming the
        field and saves a good one; Drain… sends the viewers away (the overlay comes back)."""
        c = self.console
        c.bring_to_front()
        sku = "cap"
        c.select_option("#cmd-sku", sku)
        # launch of a SKU on sale: the server's refusal is shown
        c.click("button[data-cmd='launch']")
        self.confirm_dialog(c, "Launch", {"countdown": 1})
        self.wait(c, "() => { const li = document.querySelector('#cmd-log li'); return li && li.classList.contains('fail') && "
                     "/pause/.test(li.textContent); }", what="launch of a SKU on sale refused, reason shown")
        c.click("button[data-cmd='pause']")
        self.confirm_dialog(c, "Pause")
        self.wait(c, self.LOG_TOP, ["pause", "ok"], what="pause's result")
        self.wait(c, "(sku) => document.querySelector(`tr[data-sku='${sku}']`).classList.contains('is-paused')", sku, what="paused tag")
        c.click("button[data-cmd='launch']")
        self.wait(c, self.DIALOG_OPEN, what="launch dialog")
        c.fill("#dialog-fields [name='countdown']", "99")
        c.click("#dialog-ok")
        self.wait(c, "() => document.querySelector(\"#dialog-fields label[data-field='countdown']\").classList.contains('bad')",
                  what="a countdown out of range is refused in the dialog, naming the field")
        c.fill("#dialog-fields [name='countdown']", "2")
        c.click("#dialog-ok")
        self.wait(c, "() => /opens in \\d s/.test(document.getElementById('launch-bar').textContent)", what="countdown shown")
        self.shot(c, "console-launch.png")
        self.wait(c, "() => /on sale/.test(document.getElementById('launch-bar').textContent)", what="launch: sales open")
        self.wait(c, self.LOG_TOP, ["launch", "ok"], what="launch's result")
        if self.stock()[sku]["paused"]:
            raise CheckFailed("cap still paused after the launch")
        # policy: a bad value is refused naming the field, the dialog stays open; a good one is saved
        c.click("button[data-cmd='policy']")
        self.wait(c, self.DIALOG_OPEN, what="policy editor")
        c.fill("#dialog-fields [name='trendFactor']", "1")
        c.click("#dialog-ok")
        self.wait(c, "() => { const l = document.querySelector(\"#dialog-fields label[data-field='trendFactor']\"); "
                     "return l.classList.contains('bad') && /trendFactor/.test(document.getElementById('dialog-error').textContent); }",
                  what="the server's error names trendFactor in the editor")
        self.shot(c, "console-policy-error.png")
        c.fill("#dialog-fields [name='trendFactor']", "2.5")
        c.fill("#dialog-fields [name='safetyMinimum']", "33")
        c.click("#dialog-ok")
        self.wait(c, "() => document.getElementById('dialog').hidden", what="the editor closes once saved")
        self.wait(c, "(sku) => { const p = window.__lgConsole.policies.get(sku); return p && p.values.safetyMinimum === 33 && "
                     "p.values.trendFactor === 2.5; }", sku, what="the console has the saved policy (policies message)")
        # drain, from its dialog: the overlay is sent away and comes back
        with self.overlay.expect_websocket(timeout=WAIT_MS):
            c.click("button[data-cmd='drain']")
            self.confirm_dialog(c, "Drain", {"waves": 1, "seconds": 0})
        self.wait(c, self.LOG_TOP, ["drain", "ok"], what="drain's result")
        self.wait(self.overlay, "() => document.documentElement.dataset.conn === 'live'", what="overlay back after the drain")

    def check_late_console(self):
        """A console opened late gets the open alerts (level, since when, why, who acknowledged) and the alert
        history from the server, and shows who is connected and the last refused token."""
        c = self.console
        c.bring_to_front()
        sku = "cap"
        sellable = self.stock()[sku]["sellable"]
        c.select_option("#cmd-sku", sku)
        c.fill("#cmd-qty", str(sellable))
        c.click("button[data-cmd='hold']")
        self.wait(c, "(sku) => window.__lgConsole.openAlerts.has(sku)", sku, what="sold-out alert open on the first console")
        alert_id = c.evaluate("(sku) => window.__lgConsole.openAlerts.get(sku).id", sku)
        c.click(f"#alert-feed .alert[data-alert='{alert_id}'] button.ack")
        self.wait(c, f"() => document.querySelector(\"#alert-feed .alert[data-alert='{alert_id}']\").classList.contains('acked')",
                  what="acknowledged")
        # an expired overlay token: minted with a 1 s life, used 2 s later
        expired = self.token("viewer", "obs-overlay-old", ttl=1)
        time.sleep(2.2)
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            refused_page = ctx.new_page()
            refused_page.on("console", lambda m: None)
            self.allowed = [r"WebSocket connection to .* failed", r"token expired"]
            refused_page.goto(self.base + "/overlay?token=" + expired)
            late = self.open_page(ctx, "late-console", "/console?token=" + self.tokens["operator"])
            self.wait(late, "(sku) => { const li = document.querySelector(`#open-alerts li[data-sku='${sku}']`); "
                            "return li && /soldout/i.test(li.textContent) && /since \\d\\d:\\d\\d/.test(li.textContent) && "
                            "li.querySelector('.why') && /acknowledged by olly/.test(li.textContent); }", sku,
                      what="the late console lists the open sold-out alert with since when, why and who acknowledged it")
            self.wait(late, "(id) => { const a = document.querySelector(`#alert-feed .alert[data-alert='${id}']`); "
                            "return a && a.classList.contains('acked'); }", alert_id,
                      what="the late console's history has the alert, acknowledged")
            self.wait(late, "(sku) => /since \\d\\d:\\d\\d/.test(document.querySelector(`tr[data-sku='${sku}'] .since`).textContent)",
                      sku, what="the SKU's row says since when its level holds")
            # presence: host page and overlay connected, and the refused overlay token
            self.wait(late, "() => document.getElementById('pres-host').classList.contains('on') && "
                            "document.getElementById('pres-overlay').classList.contains('on')",
                      what="presence: host page and overlay shown connected")
            self.wait(late, "() => /overlay: token expired, \\d+ s ago/.test(document.getElementById('refused').textContent)",
                      timeout=WAIT_MS, what="presence: the overlay's expired token shown")
            self.note(f"late console: open {late.text_content('#open-alerts')[:120]!r}; "
                      f"presence {late.text_content('#presence')!r}; refused {late.text_content('#refused')!r}")
            self.shot(late, "console-late.png")
            # the host page goes away: the console says so (presence is pushed, throttled to 1/s)
            host2 = self.open_page(ctx, "host-2", "/host?token=" + self.tokens["host"])
            self.wait(late, "() => /2 on/.test(document.getElementById('pres-host').textContent)", what="two host pages")
            host2.close()
            self.wait(late, "() => document.getElementById('pres-host').textContent.trim() === 'host on'", what="one host page again")
        finally:
            self.allowed = []
            ctx.close()
            c.fill("#cmd-qty", str(sellable))
            c.click("button[data-cmd='release']")
        self.wait(c, "(sku) => !window.__lgConsole.openAlerts.has(sku)", sku, what="the alert closes after the release")

    def check_console_phone(self):
        """The console on a phone (390×844): one SKU per card, the stock figure first and large."""
        ctx = self.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        try:
            page = self.open_page(ctx, "phone-console", "/console?token=" + self.tokens["operator"])
            truth = self.stock()
            for sku, s in truth.items():
                self.wait(page, self.CONSOLE_SELLABLE, [sku, s["sellable"]], what=f"phone console shows {sku}")
            boxes = page.evaluate("""() => [...document.querySelectorAll('#sku-rows tr')].map(tr => {
                const card = tr.getBoundingClientRect(), fig = tr.querySelector('td.sellable').getBoundingClientRect();
                const name = tr.querySelector('td.name').getBoundingClientRect();
                return { sku: tr.dataset.sku, card: [card.left, card.top, card.width, card.height],
                         fig: [fig.left, fig.top, fig.width, fig.height], nameTop: name.top,
                         size: parseFloat(getComputedStyle(tr.querySelector('td.sellable')).fontSize),
                         scroll: document.documentElement.scrollWidth }; })""")
            for b in boxes:
                if b["scroll"] > 390 + 1:
                    raise CheckFailed(f"the page is {b['scroll']} px wide on a 390 px phone")
                left, top, width, height = b["fig"]
                if width <= 0 or left < 0 or left + width > 390 or b["size"] < 28:
                    raise CheckFailed(f"{b['sku']}: figure box {b['fig']} font {b['size']}px not readable on the phone")
                if top > b["nameTop"]:
                    raise CheckFailed(f"{b['sku']}: the figure is not first in its card")
                if b["card"][2] < 300:
                    raise CheckFailed(f"{b['sku']}: card {b['card'][2]} px wide: not one SKU per card")
            if boxes[0]["fig"][1] > 844:
                raise CheckFailed("the first figure is below the first screen")
            self.note("phone: " + ", ".join(f"{b['sku']} figure {b['size']:.0f}px at y={b['fig'][1]:.0f}" for b in boxes))
            self.shot(page, "console-phone.png")
        finally:
            ctx.close()

    def check_mid_sale_screens(self):
        """Screenshots of the console in the middle of a sale (1280x720 and a phone): orders coming in, the
        featured SKU held down to its last units (an alert), the cap sold out. The figures on screen are checked
        against the server's before each screenshot."""
        held = {}
        try:
            for k in range(24):
                self.order(FEATURED, 1 + k % 3)
                if k % 3 == 0:
                    self.order(SUBSTITUTE, 2)
            for sku, keep in ((FEATURED, 18), ("cap", 0)):
                sellable = self.stock()[sku]["sellable"]
                held[sku] = sellable - keep
                self.console.select_option("#cmd-sku", sku)
                self.console.fill("#cmd-qty", str(held[sku]))
                self.console.click("button[data-cmd='hold']")
                self.wait(self.console, self.LOG_TOP, ["hold", "ok"], what=f"hold on {sku}")
            self.console.select_option("#cmd-sku", FEATURED)
            truth = self.stock()
            for sku, s in truth.items():
                self.wait(self.console, self.CONSOLE_SELLABLE, [sku, s["sellable"]], what=f"console figure of {sku} mid-sale")
            self.wait(self.console, "(sku) => window.__lgConsole.openAlerts.has(sku)", FEATURED, what="the featured SKU's alert is open")
            self.console.wait_for_timeout(400)
            self.shot(self.console, "console-sale.png")
            ctx = self.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            try:
                phone = self.open_page(ctx, "phone-sale", "/console?token=" + self.tokens["operator"])
                for sku, s in truth.items():
                    self.wait(phone, self.CONSOLE_SELLABLE, [sku, s["sellable"]], what=f"phone figure of {sku} mid-sale")
                phone.wait_for_timeout(400)
                self.shot(phone, "console-sale-phone.png")
            finally:
                ctx.close()
            self.note("mid-sale: " + ", ".join(f"{sku} {s['sellable']} {s['level']}" for sku, s in truth.items()))
        finally:
            for sku, qty in held.items():
                self.console.select_option("#cmd-sku", sku)
                self.console.fill("#cmd-qty", str(qty))
                self.console.click("button[data-cmd='release']")
                self.wait(self.console, self.LOG_TOP, ["release", "ok"], what=f"release on {sku}")

    def check_fifty_skus(self):
        """A real room with 50 SKUs (made with createRoom and addSku, sold from over HTTP): the console lists them,
        loads their series from the server and draws every chart with its axes and the operator actions."""
        room = f"fifty{os.getpid()}"
        with ws_connect(f"ws://127.0.0.1:{self.port}/ws?token={self.tokens['operator']}", open_timeout=5) as ws:
            ws.recv(timeout=5)
            ws.send(json.dumps({"type": "createRoom", "id": "c", "room": room, "title": "Fifty SKUs", "skus": []}))
            self.ws_wait_result(ws, "c")
        op = self.token("operator", "olly", room=room)
        connector = self.token("connector", "tb-bridge", channel="taobao", room=room)
        skus = [f"{room}-sku-{i:02d}" for i in range(50)]
        with ws_connect(f"ws://127.0.0.1:{self.port}/ws?token={op}", open_timeout=5) as ws:
            ws.recv(timeout=5)
            for i, sku in enumerate(skus):
                ws.send(json.dumps({"type": "addSku", "id": f"a{i}", "sku": sku, "name": f"商品 {i:02d}", "onHand": 1000 + 37 * i}))
                self.ws_wait_result(ws, f"a{i}")
            ws.send(json.dumps({"type": "restock", "id": "r", "sku": skus[0], "qty": 250}))
            self.ws_wait_result(ws, "r")
        orders = [{"orderId": f"F-{os.getpid()}-{k}", "channel": "taobao", "sku": skus[k % 50], "qty": 1 + k % 4, "state": "paid"}
                  for k in range(400)]
        status, body = self.http("POST", "/v1/orders", orders, token=connector)
        if status != 200:
            raise CheckFailed(f"orders for the 50-SKU room: {status} {body[:200]!r}")
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            page = self.open_page(ctx, "console-50", "/console?token=" + op)
            self.wait(page, "() => window.__lgConsole.skus.size === 50", what="50 SKUs listed")
            self.wait(page, "() => (window.__lgConsole.seriesLoaded || 0) >= 1 && "
                            "[...window.__lgConsole.skus.values()].every(s => s.chart.fromSeries && s.chart.pts.length >= 1)",
                      timeout=20_000, what="series of the 50 SKUs loaded from the server")
            first = page.evaluate("(sku) => window.__lgConsole.skus.get(sku).chart.actions.map(a => a.action)", skus[0])
            if not any("restock +250" in a for a in first) or not any("created" in a for a in first):
                raise CheckFailed(f"operator actions of {skus[0]} not in its chart: {first}")
            # every visible chart has drawn pixels, the axes included (ink in the left label gutter)
            ink = page.evaluate("""() => [...document.querySelectorAll('#sku-rows tr')].slice(0, 6).map(tr => {
                const cv = tr.querySelector('canvas'), g = cv.getContext('2d');
                const d = g.getImageData(0, 0, Math.max(1, Math.floor(cv.width * 0.08)), cv.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })""")
            if not all(n > 20 for n in ink):
                raise CheckFailed(f"charts without axis labels: ink in the label gutter {ink}")
            page.click(f"tr[data-sku='{skus[0]}']")
            page.wait_for_timeout(300)
            self.shot(page, "console-50-skus-real.png")
            self.note(f"50-SKU room: series loaded for 50, actions of {skus[0]}: {first}")
        finally:
            ctx.close()

    def ws_wait_result(self, ws, id_):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = json.loads(ws.recv(timeout=10))
            if m.get("id") == id_ and m.get("type") in ("result", "error"):
                if m["type"] == "error" or m.get("ok") is False:
                    raise CheckFailed(f"command {id_} refused: {m}")
                return m
        raise CheckFailed(f"no answer to {id_}")

    def check_drain_resume(self):
        """The operator's `drain` closes the viewers with 1012: the overlay reconnects at once with
        since/epoch, resumes without a snapshot, and shows what comes next (XFAIL on a gateway
        without `drain`)."""
        snapshots_before = self.frames["overlay"].count("snapshot")

        class Refused(Exception):
            pass
        try:
            with self.overlay.expect_websocket(timeout=WAIT_MS) as socket_info:
                answer = self.console.evaluate(
                    "() => window.__lgConsole.conn.command({ type: 'drain', waves: 1, seconds: 0 })")
                if answer.get("type") != "result":
                    raise Refused(f"{answer.get('code')}: {answer.get('message')}")
        except Refused as e:
            self.pending_xfail.append(("drain: the overlay resumes without a snapshot", f"the gateway refused drain ({e})"))
            return
        url = socket_info.value.url
        if "since=" not in url or "epoch=" not in url:
            raise CheckFailed(f"overlay reconnected without since/epoch: {url.split('token=')[0]}")
        self.wait(self.overlay, "() => document.documentElement.dataset.conn === 'live'", what="overlay live again")
        text = "resume check " + str(os.getpid())
        self.console.fill("#ann-text", text)
        self.console.click("button[data-cmd='announce']")
        self.wait(self.overlay, "(t) => [...document.querySelectorAll('#danmaku .dm.system')].some(e => e.textContent.includes(t))",
                  text, what="announcement after the resume")
        resumed = self.frames["overlay"].count("snapshot") == snapshots_before
        self.pending_xpass.append("drain: the overlay resumes")
        self.note(f"overlay reconnected with {url.split('?')[1].split('&', 1)[1]}; "
                  f"{'resumed without a snapshot' if resumed else 'got a fresh snapshot'}")

    def check_restart(self):
        """Kill the gateway, restart it on the same data dir: 'reconnecting…', then the right figures, no reload."""
        for page in (self.console, self.host, self.overlay):
            page.evaluate("() => { window.__sameDocument = 42; }")
        killed_at = time.time()
        loads_before = self.console.evaluate("() => window.__lgConsole.seriesLoaded || 0")
        self.allowed = [r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws\?token=.*' failed",
                        r"ERR_CONNECTION_REFUSED"]
        try:
            self.gateway.kill()
            self.wait(self.host, self.CONN_TEXT, "reconnecting…", what="teleprompter shows 'reconnecting…'")
            # The console says for how long, greys its figures and disables its commands.
            self.wait(self.console, "() => /^reconnecting… \\(since \\d+ s\\)$/.test(document.getElementById('conn').textContent)",
                      what="console shows 'reconnecting… (since N s)'")
            self.wait(self.console, "() => document.body.classList.contains('stale') && "
                                    "[...document.querySelectorAll('#cmd-form button')].every(b => b.disabled) && "
                                    "getComputedStyle(document.querySelector('.skus')).filter.includes('grayscale')",
                      what="console greys its figures and disables its buttons while reconnecting")
            self.shot(self.host, "host-reconnecting.png")
            self.shot(self.console, "console-reconnecting.png")
            self.gateway.start()
            for page, name in ((self.console, "console"), (self.host, "teleprompter")):
                self.wait(page, self.CONN_TEXT, "live", timeout=20_000, what=f"{name} live again")
        finally:
            self.allowed = []
        truth = self.stock()
        for sku, s in truth.items():
            self.wait(self.console, self.CONSOLE_SELLABLE, [sku, s["sellable"]], what=f"console after restart ({sku})")
        # The console reloads its charts from the server and keeps what it saw before the crash.
        self.wait(self.console, "(n) => (window.__lgConsole.seriesLoaded || 0) > n", loads_before, what="series reloaded after the restart")
        kept = self.console.evaluate("([sku, t]) => window.__lgConsole.skus.get(sku).chart.pts.filter(p => p[0] < t - 1).length",
                                     [FEATURED, killed_at])
        if kept < 1:
            raise CheckFailed("the console's chart lost the points from before the restart")
        self.wait(self.console, "() => !document.body.classList.contains('stale') && "
                                "!document.querySelector(\"button[data-cmd='restock']\").disabled",
                  what="console figures and buttons back after the restart")
        self.wait(self.host, self.HOST_FIGURE, [FEATURED, truth[FEATURED]["sellable"]], what="teleprompter after restart")
        for page in (self.console, self.host, self.overlay):
            if page.evaluate("() => window.__sameDocument") != 42:
                raise CheckFailed("a page was reloaded")
        urls = [u for u in self.ws_urls if "since=" in u and "epoch=" in u]
        if not urls:
            raise CheckFailed("no reconnect carried since= and epoch=")
        # and the live stream works again
        self.order(FEATURED, 2)
        self.figures_equal(FEATURED, truth[FEATURED]["sellable"] - 2, what="order after restart")

    def check_history_after_restart(self):
        """After a restart (SIGTERM, as a deploy does) a console opened afresh still gets the charts from before
        (points, alert markers, operator actions) and the alert history: the gateway keeps them in console.json."""
        restarted_at = time.time()
        self.gateway.stop()
        self.gateway.start()
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            page = self.open_page(ctx, "console-after-restart", "/console?token=" + self.tokens["operator"])
            self.wait(page, "() => (window.__lgConsole.seriesLoaded || 0) >= 1", what="series loaded")
            got = page.evaluate("""([sku, t]) => { const c = window.__lgConsole.skus.get(sku).chart;
                return { old: c.pts.filter(p => p[0] < t - 2).length, markers: c.markers.length,
                         actions: c.actions.map(a => a.action), alerts: window.__lgConsole.alerts.size }; }""",
                                [FEATURED, restarted_at])
            self.note(f"after the restart a fresh console has {got['old']} points from before it, {got['markers']} alert markers, "
                      f"actions {got['actions'][:4]}, {got['alerts']} alerts in its history")
            if got["old"] < 1 or not any(a.startswith("restock +100") for a in got["actions"]) or got["alerts"] < 1 or got["markers"] < 1:
                raise CheckFailed(f"history lost across the restart: {got}")
            self.shot(page, "console-after-restart.png")
        finally:
            ctx.close()

    def check_load(self):
        """Optional: the console with 50 SKUs and 6 hours of series, then 100 stock updates/s for 10 s
        (mocked socket and series in the page): p99 from arrival to the frame that shows it <= 200 ms."""
        ctx = self.browser.new_context(viewport=VIEWPORT)
        page = None
        try:
            now = int(time.time())
            skus = [f"sku-{i:02d}" for i in range(50)]

            def series(route):
                q = dict(p.split("=", 1) for p in route.request.url.split("?", 1)[1].split("&"))
                pts = [{"t": now - 6 * 3600 + i * 10, "sellable": max(0, 5000 - i // 3), "ratePerMin": 3 + (i % 40) / 10}
                       for i in range(6 * 360)]
                route.fulfill(status=200, content_type="application/json",
                              body=json.dumps({"sku": q["sku"], "bucketSec": 10, "points": pts,
                                               "alerts": [{"t": now - 3 * 3600, "level": "trend"},
                                                          {"t": now - 3600, "level": "threshold"}]}))

            def socket_handler(ws):
                snap = {"type": "snapshot", "room": "load", "title": "Load room", "seq": 1, "rev": 1, "epoch": "e1",
                        "reset": False, "featured": skus[0],
                        "skus": [{"sku": s, "name": f"商品 {s}", "sellable": 2840, "onHand": 5000, "reserved": 0,
                                  "held": 0, "sold": 2160, "paused": False, "level": "normal", "ratePerMin": 4.0,
                                  "etaSec": 42600, "substitute": None} for s in skus]}
                ws.send(json.dumps(snap))

            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("pageerror", lambda e: self.errors.append(("load", f"page error: {e}")))
            page.on("console", lambda m: m.type == "error" and self.errors.append(("load", m.text)))
            page.route(re.compile(r"/v1/rooms/load/series\?"), series)
            page.route_web_socket(re.compile(r"/ws\?"), socket_handler)
            page.goto(self.base + "/console?token=" + self.tokens["operator"])
            self.wait(page, "() => window.__lgConsole && window.__lgConsole.skus.size === 50", what="50 SKUs")
            self.wait(page, "() => [...window.__lgConsole.skus.values()].every(s => s.chart.pts.length > 1000)",
                      timeout=30_000, what="6-hour series loaded for 50 SKUs")
            # 100 stock messages per second for 10 s, sent from inside the page's mocked socket.
            page.evaluate("() => window.__lgConsole.stats.reset()")
            result = page.evaluate("""async ([skus]) => {
                const conn = window.__lgConsole.conn;
                const ws = conn.ws;
                let seq = 1, n = 0;
                const start = performance.now();
                await new Promise((resolve) => {
                  const timer = setInterval(() => {
                    for (let k = 0; k < 10; k++) {
                      const sku = skus[n % skus.length];
                      seq++; n++;
                      const sellable = 2840 - Math.floor(n / 50);
                      ws.onmessage({ data: JSON.stringify({ type: 'stock', room: 'load', seq, rev: seq, sku,
                        name: '商品 ' + sku, sellable, onHand: 5000, reserved: 0, held: 0, sold: 5000 - sellable,
                        paused: false, level: 'normal', ratePerMin: 5 + (n % 7), etaSec: sellable * 12, substitute: null }) });
                    }
                    if (performance.now() - start >= 10000) { clearInterval(timer); resolve(); }
                  }, 100);
                });
                await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                const lat = window.__lgConsole.stats.lat.slice().sort((a, b) => a - b);
                return { sent: n, measured: lat.length, p50: lat[Math.floor(lat.length * .5)],
                         p99: lat[Math.floor(lat.length * .99)], max: lat[lat.length - 1] };
            }""", [skus])
            self.note(f"load: {result['sent']} updates, {result['measured']} on screen, "
                      f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms")
            self.shot(page, "console-50-skus.png")
            if result["measured"] < result["sent"]:
                raise CheckFailed(f"only {result['measured']} of {result['sent']} updates reached the screen")
            if result["p99"] > 200:
                raise CheckFailed(f"p99 {result['p99']:.1f} ms > 200 ms")
        finally:
            ctx.close()

    def check_alert_engine_mocked(self):
        """The alert engine's messages (alert, hint, banner, levels, rate, series) as the lead
        described them, fed to the pages through a mocked socket: the console lists the alert and
        acknowledges it, the teleprompter shows hint.canSell and the hint, the overlay the banner."""
        now = int(time.time())
        skus = [
            {"sku": "hoodie-cobrand", "name": "联名卫衣 co-branded hoodie", "sellable": 23, "onHand": 500, "reserved": 12,
             "held": 0, "sold": 465, "paused": False, "level": "threshold", "ratePerMin": 4.2, "rateLowPerMin": 3.1,
             "rateHighPerMin": 5.6, "etaSec": 330, "substitute": "hoodie-regular"},
            {"sku": "hoodie-regular", "name": "常规卫衣 regular hoodie", "sellable": 1710, "onHand": 2000, "reserved": 30,
             "held": 0, "sold": 260, "paused": False, "level": "trend", "ratePerMin": 9.5, "etaSec": 10800,
             "substitute": None},
            {"sku": "cap", "name": "棒球帽 cap", "sellable": 288, "onHand": 300, "reserved": 2, "held": 0, "sold": 10,
             "paused": False, "level": "normal", "ratePerMin": 0.3, "etaSec": None, "substitute": None},
        ]
        snapshot = {"type": "snapshot", "room": ROOM, "title": "Demo live room", "seq": 10, "rev": 100,
                    "epoch": "mock1", "reset": False, "featured": "hoodie-cobrand", "skus": skus}
        alert = {"type": "alert", "room": ROOM, "seq": 12, "rev": 101, "id": "a-1", "level": "threshold",
                 "previousLevel": "trend", "sku": "hoodie-cobrand", "sellable": 23, "ratePerMin": 4.2, "etaSec": 330,
                 "rateLowPerMin": 3.1, "rateHighPerMin": 5.6, "safetyLine": 50, "suggestedAction": "restock",
                 "suggestedQty": 200, "at": now - 40,
                 "why": "sellable 23 at or below the safety line 50 = max(30, 1.5 × 20 min × 4.2/min); rate 4.2/min (98 %: 3.1–5.6)"}
        alert2 = {"type": "alert", "room": ROOM, "seq": 11, "rev": 102, "id": "a-2", "level": "trend",
                  "previousLevel": "normal", "sku": "hoodie-regular", "sellable": 1710, "ratePerMin": 9.5,
                  "etaSec": 10800, "safetyLine": 100, "suggestedAction": None, "suggestedQty": None, "at": now - 900}
        hint = {"type": "hint", "room": ROOM, "seq": 11, "rev": 101, "sku": "hoodie-cobrand", "canSell": 21,
                "mayFreeUp": 12, "level": "threshold", "text": "最后21件,手慢无"}
        banner = {"type": "banner", "room": ROOM, "seq": 11, "rev": 101, "sku": "hoodie-cobrand", "level": "threshold",
                  "text": "库存紧张 · 仅剩 23 件", "withdrawn": False}
        reply = {"type": "danmaku", "room": ROOM, "seq": 13, "rev": 101, "from": "livegate", "role": "service",
                 "text": "联名卫衣还有23件,常规卫衣库存充足", "system": True}
        question = {"type": "danmaku", "room": ROOM, "seq": 12, "rev": 101, "from": "viewer-88", "role": "viewer",
                    "text": "还有货吗?", "system": False}
        acks = []

        def series(route):
            q = dict(p.split("=", 1) for p in route.request.url.split("?", 1)[1].split("&"))
            sku = q["sku"]
            start = {"hoodie-cobrand": 500, "hoodie-regular": 2000, "cap": 300}[sku]
            end = {"hoodie-cobrand": 23, "hoodie-regular": 1710, "cap": 288}[sku]
            n = 360
            pts = []
            for i in range(n + 1):
                f = i / n
                shape = f ** 1.6 if sku == "hoodie-cobrand" else f
                pts.append({"t": now - 3600 + i * 10, "sellable": round(start - (start - end) * shape),
                            "ratePerMin": round((start - end) / 60 * (1.6 * f ** 0.6 if sku == "hoodie-cobrand" else 1), 2)})
            alerts = [{"t": now - 900, "level": "trend"}, {"t": now - 40, "level": "threshold"}] if sku == "hoodie-cobrand" else []
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps({"sku": sku, "bucketSec": 10, "points": pts, "alerts": alerts}))

        def console_socket(ws):
            def on_message(message):
                m = json.loads(message)
                if m.get("type") == "ack":
                    acks.append(m)
                    ws.send(json.dumps({"type": "result", "id": m["id"], "command": "ack", "ok": True, "outcome": "ok",
                                        "duplicate": False, "rev": 102, "sku": "hoodie-cobrand"}))
            ws.on_message(on_message)
            ws.send(json.dumps(snapshot))
            ws.send(json.dumps(alert2))
            ws.send(json.dumps(alert))

        def host_socket(ws):
            ws.send(json.dumps(snapshot))
            ws.send(json.dumps(hint))

        def overlay_socket(ws):
            ws.send(json.dumps(snapshot))
            ws.send(json.dumps(banner))
            ws.send(json.dumps(question))
            ws.send(json.dumps(reply))

        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            pages = {}
            for name, path, handler, token in (("console-mock", "/console", console_socket, "operator"),
                                               ("host-mock", "/host", host_socket, "host"),
                                               ("overlay-mock", "/overlay", overlay_socket, "viewer")):
                page = ctx.new_page()
                page.set_default_timeout(WAIT_MS)
                page.on("pageerror", lambda e, n=name: self.errors.append((n, f"page error: {e}")))
                page.on("console", lambda m, n=name: m.type == "error" and self.errors.append((n, m.text)))
                page.route(re.compile(r"/v1/rooms/[^/]+/series\?"), series)
                page.route_web_socket(re.compile(r"/ws\?"), handler)
                page.goto(f"{self.base}{path}?token={self.tokens[token]}")
                pages[name] = page
            console, host, overlay = pages["console-mock"], pages["host-mock"], pages["overlay-mock"]
            # console: the alert, its acknowledgement, rate and time to stock-out, series drawn
            self.wait(console, "() => document.querySelectorAll('#alert-feed .alert').length === 2", what="two alerts listed")
            self.wait(console, "() => document.getElementById('alert-count').textContent === '2'", what="unacked count 2")
            rate = console.text_content("tr[data-sku='hoodie-cobrand'] td.rate")
            eta = console.text_content("tr[data-sku='hoodie-cobrand'] td.eta")
            rate_range = console.get_attribute("tr[data-sku='hoodie-cobrand'] td.rate", "data-range")
            if rate != "4.2/min" or rate_range != "3.1–5.6" or eta != "5m 30s":
                raise CheckFailed(f"rate/interval/eta shown as {rate!r}/{rate_range!r}/{eta!r}")
            facts = console.text_content("#alert-feed .alert[data-alert='a-1'] .facts")
            why = console.text_content("#alert-feed .alert[data-alert='a-1'] .why")
            if "4.2/min (3.1–5.6)" not in facts or not why or "safety line 50" not in why:
                raise CheckFailed(f"alert shows {facts!r} / why {why!r}: the interval and the reason must be on it")
            self.wait(console, "() => window.__lgConsole.skus.get('hoodie-cobrand').chart.pts.length > 300",
                      what="series drawn on the chart")
            console.bring_to_front()
            console.click("#alert-feed .alert[data-alert='a-1'] button.ack")
            self.wait(console, "() => document.querySelector(\"#alert-feed .alert[data-alert='a-1']\").classList.contains('acked')",
                      what="alert acknowledged")
            if not acks or acks[0].get("alert") != "a-1" or not acks[0].get("id"):
                raise CheckFailed(f"ack sent as {acks}")
            self.shot(console, "console-alerts.png")
            # teleprompter: hint.canSell, the hint text, level colour
            self.wait(host, self.HOST_FIGURE, ["hoodie-cobrand", 21], what="teleprompter uses hint.canSell")
            self.wait(host, "() => document.querySelector('.prompt .hint').textContent === '最后21件,手慢无'", what="hint text")
            self.shot(host, "host-hint.png")
            # overlay: the banner, then its withdrawal
            self.wait(overlay, "() => document.getElementById('banner').classList.contains('show') && "
                               "document.querySelector('#banner .text').textContent === '库存紧张 · 仅剩 23 件'",
                      what="banner on the overlay")
            self.wait(overlay, "() => document.querySelectorAll('#danmaku .dm.system').length === 1", what="system reply")
            overlay.evaluate("() => document.documentElement.classList.add('preview')")
            self.shot(overlay, "overlay-banner-preview.png")
        finally:
            ctx.close()


    # ---------- issue #17: the figures on air are true ----------
    def command(self, message):
        """Sends an operator command through the console's socket; returns the result or raises."""
        answer = self.console.evaluate("(m) => window.__lgConsole.conn.command(m)", message)
        if answer.get("type") != "result" or not answer.get("ok", True):
            raise CheckFailed(f"{message['type']} refused: {answer}")
        return answer

    BANNER_LEFT = "() => { const b = document.getElementById('banner'); " \
                  "return b.classList.contains('show') && b.dataset.left !== '' ? Number(b.dataset.left) : null; }"

    def check_banner_follows_stock(self):
        """The overlay's banner figure follows 100 stock changes of its SKU, never stale by more than 1 s
        (the gateway re-sends it at most twice a second), and a late joiner shows the same banner."""
        before = self.stock()[FEATURED]["sellable"]
        # A safety minimum above the stock raises threshold (and its banner) with hundreds of units left.
        self.command({"type": "policy", "sku": FEATURED, "safetyMinimum": before + 1000})
        try:
            self.wait(self.overlay, f"() => ({self.BANNER_LEFT})() === {before}", what=f"banner shows {before}")
            changes, worst, shown = [], 0.0, set()
            for n in range(100):
                # Paced like a busy sale (about 20 orders a second), so the 2-a-second banner shows its steps.
                self.overlay.wait_for_timeout(40)
                self.order(FEATURED, 1)
                changes.append((time.monotonic(), before - n - 1))
                left = self.overlay.evaluate(self.BANNER_LEFT)
                now = time.monotonic()
                if left is None:
                    raise CheckFailed(f"the banner went away during the sale (change {n + 1})")
                shown.add(left)
                # Since when has the truth been below the figure shown? (never above the sellable for long)
                first_below = next((t for t, v in changes if v < left), None)
                if first_below is not None:
                    worst = max(worst, now - first_below)
            final = before - 100
            start = time.monotonic()
            self.wait(self.overlay, f"() => ({self.BANNER_LEFT})() === {final}", timeout=3000,
                      what=f"banner shows the final {final}")
            settle = time.monotonic() - start
            text = self.overlay.text_content("#banner .text")
            if str(final) not in text:
                raise CheckFailed(f"banner text {text!r} does not carry the figure {final}")
            self.note(f"banner followed 100 changes: {len(shown)} figures shown, worst staleness {worst:.2f} s, "
                      f"final {final} shown {settle:.2f} s after the last change; text {text!r}")
            if worst > 1.3:
                raise CheckFailed(f"the banner figure was above the sellable for {worst:.2f} s (budget 1 s)")
            if len(shown) < 3:
                raise CheckFailed(f"the banner showed only {sorted(shown)} over 100 changes")
            self.shot(self.overlay, "overlay-banner-live.png", omit_background=True)
            # A late joiner (a new OBS source) shows the standing banner from its snapshot.
            ctx = self.browser.new_context(viewport=VIEWPORT)
            try:
                late = self.open_page(ctx, "overlay-late", "/overlay?token=" + self.tokens["viewer2"])
                self.wait(late, f"() => ({self.BANNER_LEFT})() === {final}", what="a late overlay shows the banner")
            finally:
                ctx.close()
        finally:
            self.command({"type": "policy", "sku": FEATURED, "safetyMinimum": 30})

    def check_rate_decays(self):
        """With no sale, the published rate falls with core time (re-sent as it moves) and pages show it.
        Read on the host's stream: the viewers' stream carries no rate."""
        url = f"ws://127.0.0.1:{self.port}/ws?token={self.tokens['host2']}"
        rates, stamps = [], []
        with ws_connect(url, open_timeout=10, max_size=None) as ws:
            snap = json.loads(ws.recv(timeout=10))
            first = next(s for s in snap["skus"] if s["sku"] == FEATURED)
            if not first.get("ratePerMin"):
                raise CheckFailed(f"no rate to decay: {first.get('ratePerMin')}")
            rates.append(first["ratePerMin"])
            console_before = self.console.text_content(f"tr[data-sku='{FEATURED}'] td.rate")
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and len(rates) < 3:
                try:
                    msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                except TimeoutError:
                    break
                if msg.get("type") == "stock" and msg.get("sku") == FEATURED and msg.get("ratePerMin") is not None:
                    if msg["sold"] != first["sold"]:
                        raise CheckFailed("a sale happened during the no-sale check")
                    rates.append(msg["ratePerMin"])
                    stamps.append(msg.get("at"))
        if len(rates) < 3 or not all(b < a for a, b in zip(rates, rates[1:])):
            raise CheckFailed(f"rate did not decay without sales within 45 s: {rates}")
        self.wait(self.console, "([sku, before]) => document.querySelector(`tr[data-sku='${sku}'] td.rate`).textContent !== before",
                  [FEATURED, console_before], what="the console's rate moves without sales")
        console_after = self.console.text_content(f"tr[data-sku='{FEATURED}'] td.rate")
        self.note(f"no sales: ratePerMin {' → '.join(f'{r:.2f}' for r in rates)} (at {stamps}); console {console_before} → {console_after}")

    def check_expired_token_on_air(self):
        """An overlay with an expired token (OBS mode, no preview=1) stays transparent, retries with
        backoff and says why in its own console log, never on air."""
        cmd = [self.args.bin, "token", "--config", self.args.config, "--room", ROOM, "--role", "viewer", "--sub", "obs-old",
               "--ttl", "1"]
        token = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=20).stdout.strip()
        time.sleep(2.1)          # the token's one second runs out
        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            warnings, sockets = [], []
            page.on("console", lambda m: warnings.append(m.text) if m.type in ("warning", "error") else None)
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.goto(self.base + "/overlay?token=" + token)
            self.wait(page, "() => document.documentElement.dataset.conn === 'refused'", what="overlay sees the refusal")
            path = self.shot(page, "overlay-expired-token.png", omit_background=True)
            alpha = png_alpha_max(path)
            blocked = page.evaluate("() => document.body.classList.contains('blocked')")
            # It tries again by itself (first retry after 5 s).
            deadline = time.monotonic() + 8
            while len(sockets) < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            if alpha != 0 or blocked:
                raise CheckFailed(f"the overlay painted on air with an expired token (max alpha {alpha}, blocked {blocked})")
            if len(sockets) < 2:
                raise CheckFailed(f"the overlay did not retry after the refusal ({len(sockets)} connection(s) in 8 s)")
            if not any("token refused" in w and "expired" in w for w in warnings):
                raise CheckFailed(f"no console log of the refusal: {warnings}")
            self.note(f"expired token: transparent (max alpha {alpha}), {len(sockets)} attempts, log: {warnings[0]!r}")
            # With preview=1 the reason is shown in plain words.
            page.goto(self.base + "/overlay?preview=1&token=" + token)
            self.wait(page, "() => document.body.classList.contains('blocked') && "
                            "document.getElementById('notice').textContent.includes('was refused')",
                      what="the preview explains the refusal")
        finally:
            ctx.close()

    def check_seven_digits(self):
        """Figures up to 7 digits fit at 1280 and 1920 wide on the teleprompter (the level badge stays on
        screen) and on the overlay's banner."""
        truth = self.stock()[FEATURED]
        extra = 1_234_567 - truth["sellable"]
        self.command({"type": "restock", "sku": FEATURED, "qty": extra, "source": "browser test"})
        self.command({"type": "policy", "sku": FEATURED, "safetyMinimum": 2_000_000})
        try:
            self.figures_equal(FEATURED, 1_234_567, what="after the big restock")
            self.wait(self.overlay, f"() => ({self.BANNER_LEFT})() === 1234567", what="banner with 7 digits")
            for w, h in ((1280, 720), (1920, 1080)):
                for page in (self.host, self.overlay):
                    page.set_viewport_size({"width": w, "height": h})
                problems = self.host.evaluate(
                    "(sku) => { const W = innerWidth, H = innerHeight, out = [];"
                    " for (const sel of ['.figure', '.levelword', '.unit']) {"
                    "  const e = document.querySelector(`.prompt[data-sku='${sku}'] ${sel}`); const r = e.getBoundingClientRect();"
                    "  if (r.width === 0 || r.left < 0 || r.right > W + .5 || r.bottom > H + .5) out.push(`${sel} ${Math.round(r.left)}..${Math.round(r.right)} of ${W}`); }"
                    " return out; }", FEATURED)
                problems += self.overlay.evaluate(
                    "() => { const W = innerWidth, out = [], b = document.getElementById('banner'), t = b.querySelector('.text');"
                    " const r = b.getBoundingClientRect(); if (r.left < 0 || r.right > W + .5) out.push(`banner ${r.left}..${r.right}`);"
                    " if (t.scrollWidth > t.clientWidth + 1) out.push(`banner text clipped ${t.scrollWidth} > ${t.clientWidth}`);"
                    " return out; }")
                figure = self.host.text_content(f".prompt[data-sku='{FEATURED}'] .figure")
                self.shot(self.host, f"host-7-digits-{w}.png")
                self.shot(self.overlay, f"overlay-7-digits-{w}.png", omit_background=True)
                if problems:
                    raise CheckFailed(f"at {w}x{h}: {problems}")
                self.note(f"{w}x{h}: teleprompter {figure!r} and badge on screen; banner "
                          f"{self.overlay.text_content('#banner .text')!r} unclipped")
        finally:
            for page in (self.host, self.overlay):
                page.set_viewport_size(VIEWPORT)
            self.command({"type": "policy", "sku": FEATURED, "safetyMinimum": 30})
            self.command({"type": "hold", "sku": FEATURED, "qty": extra})

    # ---------- running ----------
    def check_cluster_edge(self):
        """A core and an edge (each its own livegate process) over a real redis-server: the console
        and the teleprompter opened at the edge show the core's figures; an order posted at the
        edge reaches the core and both pages; the core's console counts the pages at the edge."""
        redis_bin = shutil.which("redis-server")
        if not redis_bin:
            raise CheckFailed("no redis-server (apt-get install -y redis-server)")
        work = tempfile.mkdtemp(prefix="livegate-browser-cluster.")
        rport, cport, eport = free_port(), free_port(), free_port()
        redis_log = open(os.path.join(self.artifacts, "cluster-redis.log"), "ab")
        redis = subprocess.Popen([redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", work], stdout=redis_log, stderr=subprocess.STDOUT)
        redis_log.close()
        url = f"redis://127.0.0.1:{rport}"
        core = Gateway(self.args.bin, self.args.config, os.path.join(work, "core"), cport,
                       os.path.join(self.artifacts, "cluster-core.log"), ["--redis", url])
        edge = Gateway(self.args.bin, self.args.config, os.path.join(work, "edge"), eport,
                       os.path.join(self.artifacts, "cluster-edge.log"), ["--redis", url, "--edge", "--node", "edge1"])
        saved = self.base, self.console, self.host
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", rport), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise CheckFailed("redis-server did not start")
                    time.sleep(0.05)
            core.start()
            edge.start()
            self.base = f"http://127.0.0.1:{cport}"
            before = self.stock()[FEATURED]["sellable"]
            ctx = self.browser.new_context(viewport=VIEWPORT)
            try:
                self.base = f"http://127.0.0.1:{eport}"
                self.console = self.open_page(ctx, "edge-console", "/console?token=" + self.tokens["operator"])
                self.host = self.open_page(ctx, "edge-host", "/host?token=" + self.tokens["host"])
                self.figures_equal(FEATURED, before, what="at the edge, as the core has it")
                # An order at the edge (its relay may not have seen the core's heartbeat yet: 503, retry).
                order = {"orderId": f"EDGE-{os.getpid()}", "channel": "taobao", "sku": FEATURED, "qty": 2, "state": "paid"}
                deadline = time.monotonic() + 10
                while True:
                    status, body = self.http("POST", "/v1/orders", order, token=self.tokens["connector"])
                    if status != 503 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                if status != 200 or not json.loads(body)["results"][0]["ok"]:
                    raise CheckFailed(f"POST /v1/orders at the edge: {status} {body[:200]!r}")
                took = self.figures_equal(FEATURED, before - 2, what="at the edge after an order posted there")
                self.note(f"an order posted at the edge showed on the edge's pages in {took * 1000:.0f} ms")
                self.base = f"http://127.0.0.1:{cport}"
                if self.stock()[FEATURED]["sellable"] != before - 2:
                    raise CheckFailed("the core does not have the order posted at the edge")
                self.wait(self.console, "() => { const p = window.__lgConsole.presence; "
                          "return p && p.roles.host >= 1 && p.pages.host >= 1 && p.pages.console >= 1; }",
                          what="the console at the edge counts the host page and itself at the edge")
                self.shot(self.console, "edge-console.png")
                self.shot(self.host, "edge-host.png")
            finally:
                ctx.close()
        finally:
            self.base, self.console, self.host = saved
            edge.stop()
            core.stop()
            redis.terminate()
            try:
                redis.wait(10)
            except subprocess.TimeoutExpired:
                redis.kill()
            shutil.rmtree(work, ignore_errors=True)

    def note(self, text):
        print(f"      {text}")

    def run_check(self, name, fn):
        self.pending_xfail, self.pending_xpass = [], []
        errors_before = len(self.errors)
        start = time.monotonic()
        try:
            fn()
            new_errors = self.errors[errors_before:]
            if new_errors:
                raise CheckFailed("; ".join(f"[{p}] {t}" for p, t in new_errors[:5]))
            status, detail = "PASS", ""
        except CheckFailed as e:
            status, detail = "FAIL", str(e)
        except Exception as e:  # noqa: BLE001 - any failure of a check is reported, the rest still run
            status, detail = "FAIL", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        took = time.monotonic() - start
        print(f"{status:5} {name} ({took:.1f}s){': ' + detail if detail else ''}")
        self.results.append((name, status, detail))
        for what, why in self.pending_xfail:
            print(f"XFAIL {what}: {why} (expected while the gateway lacks it; --strict-alerts makes it a failure)")
            self.results.append((what, "XFAIL", why))
        for what in self.pending_xpass:
            if self.args.strict_alerts:
                print(f"PASS  {what}")
                self.results.append((what, "PASS", ""))
            else:
                print(f"XPASS {what}: works now; make it strict (--strict-alerts)")
                self.results.append((what, "XPASS", ""))
        if self.args.strict_alerts and self.pending_xfail:
            self.results.append((name + " (strict alerts)", "FAIL", "alert-engine checks failed"))

    def run(self):
        self.gateway.start()
        self.tokens = {
            "operator": self.token("operator", "olly"),
            "host": self.token("host", "hana"),
            "viewer": self.token("viewer", "obs-overlay"),
            "viewer2": self.token("viewer", "viewer-88"),
            "host2": self.token("host", "rate-watcher"),
            "connector": self.token("connector", "tb-bridge", channel="taobao"),
        }
        self.ws_urls = []
        with sync_playwright() as pw:
            # Each page stands for a screen of its own (operator's monitor, the host's TV, OBS): no
            # background-tab throttling of timers and frames.
            self.browser = pw.chromium.launch(
                executable_path=CHROMIUM, timeout=30_000,
                args=["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                      "--disable-backgrounding-occluded-windows"])
            try:
                self.run_check("pages without a valid token say so", self.check_no_token)
                ctx = self.browser.new_context(viewport=VIEWPORT)
                self.console = self.open_page(ctx, "console", "/console?token=" + self.tokens["operator"])
                self.host = self.open_page(ctx, "host", "/host?token=" + self.tokens["host"])
                self.overlay = self.open_page(ctx, "overlay", "/overlay?token=" + self.tokens["viewer"])
                for p in (self.console, self.host, self.overlay):
                    p.on("websocket", lambda ws: self.ws_urls.append(ws.url))
                self.run_check("pages connect and show the room", self.check_initial)
                self.run_check("Chromium negotiates permessage-deflate; room messages go out compressed", self.check_deflate)
                self.run_check("an order over HTTP updates console and teleprompter within 1 s", self.check_order)
                self.run_check("the console over https:// uses wss:// and shows live updates", self.check_https_console)
                self.run_check("restock clicked on the console raises the figures; errors shown", self.check_restock_click)
                self.run_check("teleprompter figure >= 15% of the height, colour follows the level", self.check_teleprompter)
                self.run_check("a threshold trip changes the teleprompter and shows the server's banner",
                               self.check_threshold_banner)
                self.run_check("an announcement shows on the overlay as a system line", self.check_announce)
                self.run_check("a viewer's danmaku shows on the overlay", self.check_viewer_danmaku)
                self.run_check("console: switch (confirmed) reaches host and overlay; undo; errors shown",
                               self.check_console_switch)
                self.run_check("console: launch with countdown, policy editing with the server's field errors, drain",
                               self.check_console_launch_policy_drain)
                self.run_check("a late console shows open alerts (since, why, ack) and history; presence; refused token",
                               self.check_late_console)
                self.run_check("the console on a phone (390x844): one SKU per card, figures first", self.check_console_phone)
                self.run_check("screenshots of the console mid-sale (1280x720, phone), figures checked first",
                               self.check_mid_sale_screens)
                self.run_check("a real 50-SKU room: series from the server, charts with axes and operator actions",
                               self.check_fifty_skus)
                self.shot(self.console, "console.png")
                self.shot(self.overlay, "overlay.png", omit_background=True)
                self.overlay.evaluate("() => document.documentElement.classList.add('preview')")
                self.shot(self.overlay, "overlay-preview.png")
                self.overlay.evaluate("() => document.documentElement.classList.remove('preview')")
                self.run_check("the overlay banner's figure follows 100 stock changes (≤ 1 s stale)", self.check_banner_follows_stock)
                self.run_check("the rate decays with no sales, on the wire and on the console", self.check_rate_decays)
                self.run_check("7-digit figures fit at 1280 and 1920 (teleprompter badge, overlay banner)", self.check_seven_digits)
                self.run_check("an expired token on air: the overlay stays transparent and retries", self.check_expired_token_on_air)
                self.run_check("drain (1012): the overlay reconnects at once and resumes", self.check_drain_resume)
                self.run_check("gateway killed and restarted: reconnecting…, then the right figures", self.check_restart)
                ctx.close()
                self.run_check("after a restart a fresh console gets the charts and the alert history from before",
                               self.check_history_after_restart)
                self.run_check("alert engine messages render (mocked socket): alert + ack, hint, banner",
                               self.check_alert_engine_mocked)
                self.run_check("a core and an edge over Redis: the pages at the edge show the core's figures and orders posted there",
                               self.check_cluster_edge)
                if not self.args.skip_load:
                    self.run_check("load: 50 SKUs, 6 h series, 100 updates/s: p99 <= 200 ms", self.check_load)
            finally:
                self.browser.close()

    def cleanup(self):
        self.gateway.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--strict-alerts", action="store_true",
                        help="fail instead of XFAIL on the checks of what newer gateways send (alert engine, drain)")
    parser.add_argument("--skip-load", action="store_true", help="skip the 50-SKU load check")
    args = parser.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)

    def on_term(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    suite = Suite(args)
    try:
        suite.run()
    except Exception as e:  # noqa: BLE001
        suite.results.append(("setup", "FAIL", f"{type(e).__name__}: {e}"))
        print(f"FAIL  setup: {type(e).__name__}: {e}")
    finally:
        suite.cleanup()
    if suite.series_404:
        print(f"note: the series endpoint answered 404 {suite.series_404} time(s) (not in this gateway yet)")
    count = {k: sum(1 for r in suite.results if r[1] == k) for k in ("PASS", "FAIL", "XFAIL", "XPASS")}
    print(f"screenshots: {args.artifacts}")
    print(f"{count['PASS']} passed, {count['FAIL']} failed, {count['XFAIL']} xfail, {count['XPASS']} xpass")
    return 1 if count["FAIL"] or not suite.results else 0


if __name__ == "__main__":
    sys.exit(main())
