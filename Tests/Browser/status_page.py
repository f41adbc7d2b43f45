#!/usr/bin/env python3
"""Opens Ben's live status page in headless Chromium over the DevTools protocol (standard library only).

    status_page.py CHROMIUM URL SCREENSHOT.png

1. Loads URL (the live page: server-sent events), waits until it has rendered, saves a screenshot, and prints one
   JSON line of what the DOM shows and how long rendering took (BenOperationsTests.StatusPageTests asserts on it).
2. Then waits (up to 60 s) for the page to render a newer document pushed by the server, and prints a second JSON
   line with the new figures. The test changes the ledger's state after reading the first line.

--dump-dom cannot do this: a page holding an event stream open never lets headless Chromium's virtual time run out.
"""
import base64
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class DevTools:
    """A minimal WebSocket client (RFC 6455, text frames) speaking the Chrome DevTools protocol."""

    def __init__(self, ws_url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", ws_url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=60)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall(
            (f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"websocket upgrade refused: {head!r}")
        self.next_id = 0

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("devtools connection closed")
            data += chunk
        return data

    def _recv_message(self):
        message = b""
        while True:
            b0, b1 = self._recv_exact(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._recv_exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._recv_exact(8))[0]
            payload = self._recv_exact(length)
            opcode = b0 & 0x0F
            if opcode in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return json.loads(message)
            elif opcode == 0x8:
                raise RuntimeError("devtools closed the connection")

    def call(self, method, **params):
        self.next_id += 1
        body = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = secrets.token_bytes(4)
        header = bytes([0x81])
        if len(body) < 126:
            header += bytes([0x80 | len(body)])
        elif len(body) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(body))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(body))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
        while True:
            reply = self._recv_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


FACTS = """(() => {
  const b = document.body.dataset;
  const text = (id) => (document.getElementById(id) || {}).textContent || "";
  return {
    rendered: b.rendered, updates: Number(b.updates), renderMs: Number(b.renderMs), nodes: Number(b.nodes),
    firstRenderMs: window.__firstRenderAt || null,
    live: text("live"),
    racks: document.querySelectorAll("#heatmap .rack").length,
    racksWithActive: [...document.querySelectorAll("#heatmap .rack")].filter((r) => Number(r.dataset.active) > 0).length,
    rolloutActive: text("rollout-active"), rolloutStatus: text("rollout-status"),
    missingRows: document.querySelectorAll("#missing-rows tr").length, missingCount: Number(document.getElementById("missing").dataset.count || 0),
    missingGroups: text("missing-groups"),
    stripes: document.querySelectorAll("#trees-body .stripe").length, treesHeadline: (document.querySelector("#trees-body > .muted") || {}).textContent || "",
    treeItems: document.querySelectorAll("#trees-body .tree li").length,
    driftHeadline: text("drift-headline"), driftLocations: document.querySelectorAll("#drift-body details").length,
    versionRows: document.querySelectorAll("#version-rows tr").length, auditRows: document.querySelectorAll("#audit-rows tr").length,
    footer: text("render"),
  };
})()"""

# Expands the first relay of stripe 0 and times the click handler: the page must stay responsive at 10 000 nodes.
EXPAND = """(() => {
  const toggle = document.querySelector("#tree-0 .toggle");
  if (!toggle) return null;
  const before = document.querySelectorAll("#tree-0 li").length;
  const t0 = performance.now();
  toggle.click();
  const ms = performance.now() - t0;
  return { ms, before, after: document.querySelectorAll("#tree-0 li").length };
})()"""


def main():
    chromium, url, screenshot = sys.argv[1:4]
    profile = tempfile.mkdtemp(prefix="ben-chromium-")
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,2200", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ws = None
        deadline = time.time() + 30
        while time.time() < deadline and ws is None:
            line = browser.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws = m.group(1)
        if ws is None:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        port = re.match(r"ws://[^:]+:(\d+)/", ws).group(1)
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=2200, deviceScaleFactor=1, mobile=False)
        tools.call("Page.addScriptToEvaluateOnNewDocument",
                   source="addEventListener('DOMContentLoaded', () => new MutationObserver(() => {"
                          " if (document.body.dataset.rendered === 'yes' && !window.__firstRenderAt)"
                          " window.__firstRenderAt = performance.now(); }).observe(document.body, {attributes: true}));")
        tools.call("Page.navigate", url=url)
        wait_for(tools, "document.body && document.body.dataset.rendered === 'yes'", 60)
        time.sleep(0.5)  # let layout settle before the picture
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        facts = tools.evaluate(FACTS)
        facts["expand"] = tools.evaluate(EXPAND)
        print(json.dumps(facts), flush=True)
        seen = facts["updates"]
        wait_for(tools, f"Number(document.body.dataset.updates) > {seen}", 60)
        print(json.dumps(tools.evaluate(FACTS)), flush=True)
    finally:
        browser.kill()
        browser.wait()


def wait_for(tools, condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if tools.evaluate(f"Boolean({condition})"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {condition}")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line the test can show
        print(json.dumps({"error": str(error)}), flush=True)
        sys.exit(1)
