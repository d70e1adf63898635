#!/usr/bin/python3
"""report.html in a real browser: headless Chromium, driven over the DevTools protocol (Debian's
chromium and python3-websocket).

    report_browser.py SHOTS_DIR REPORT.html...

For every report, at a desktop width (1280 px) and a phone width (390 px): the page loads from
file://, logs no console error and throws no exception; every <img> has loaded (complete, with a
natural size) and every figure the "Figures:" line links to is on the page, with an image; the
runs table (and, for a training run, the final-error table) is under its heading; the page does
not overflow sideways (a wide table scrolls in its own box); a screenshot of the page is not blank
(SHOTS_DIR/<report folder>-<width>.png). Prints one line per check; exit 1 on any failure.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import matplotlib.image
import numpy as np
import websocket

WIDTHS = {"desktop": 1280, "phone": 390}

# Runs in the page; returns what the checks below need.
INSPECT = r"""
(() => {
  const imgs = [...document.images].map(i => ({alt: i.alt, complete: i.complete,
                                               w: i.naturalWidth, h: i.naturalHeight}));
  const links = [...document.querySelectorAll('p a[href^="#"]')].map(a => a.getAttribute('href').slice(1));
  const figures = [...document.querySelectorAll('figure')].map(f => ({
      id: f.id, img: f.querySelectorAll('img, svg').length,
      box: f.getBoundingClientRect().height}));
  const sections = {};
  let current = null;
  for (const el of document.body.children) {
    if (el.tagName === 'H2') { current = el.textContent; sections[current] = []; continue; }
    if (current === null) continue;
    sections[current].push(el.tagName === 'TABLE' || el.querySelector('table') ? 'table' :
                           el.tagName.toLowerCase());
  }
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('table')].map(t => {
      const box = t.parentElement;
      const style = getComputedStyle(box);
      return {width: t.scrollWidth, box: box.clientWidth, scrolls: box.scrollWidth > box.clientWidth,
              overflowX: style.overflowX};
  });
  return {imgs, links, figures, sections, wide, title: document.title,
          scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
          height: root.scrollHeight, errors: window.__errors || []};
})()
"""

# Installed before the page's own scripts: errors the console API would not show.
RECORD_ERRORS = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target.src || e.target.outerHTML)), true);
"""


class Chromium:
    """A headless Chromium and a DevTools session on one page."""

    def __init__(self, profile):
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        port = re.search(r":(\d+)/", url).group(1)
        targets = json.loads(self.http(port, "/json/list"))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_ERRORS)

    @staticmethod
    def http(port, path):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.read().decode()

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError(f"no {method} within {seconds} s")

    def console_errors(self):
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " +
                           " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", ""))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def blank(png):
    """True when the screenshot is (almost) one colour: fewer than 1% of pixels differ from the
    most common one."""
    img = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    flat = (img.reshape(-1, 3) * 255).round().astype(int)
    keys = flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]
    _, counts = np.unique(keys, return_counts=True)
    return counts.max() > 0.99 * len(keys)


def inspect(browser, path, width, shots):
    failures = []
    browser.events.clear()
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                 deviceScaleFactor=1, mobile=width < 600)
    browser.call("Page.navigate", url="file://" + os.path.abspath(path))
    browser.wait_event("Page.loadEventFired")
    page = browser.call("Runtime.evaluate", expression=INSPECT, returnByValue=True)["result"]["value"]
    where = f"{os.path.basename(os.path.dirname(path))} at {width} px"

    def check(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {where}: {what}")
        if not ok:
            failures.append(what)

    errors = browser.console_errors() + page["errors"]
    check(not errors, "no console error" + (f" (found: {errors[:3]})" if errors else ""))
    broken = [i["alt"] for i in page["imgs"] if not i["complete"] or not i["w"] or not i["h"]]
    check(not broken, f"every image loads ({len(page['imgs'])} images)" +
          (f"; broken: {broken}" if broken else ""))
    ids = [f["id"] for f in page["figures"]]
    check(page["links"] and page["links"] == ids,
          f"the Figures line links each figure on the page ({len(ids)} figures)")
    check(all(f["img"] == 1 and f["box"] > 50 for f in page["figures"]),
          "every figure shows one image")
    runs = page["sections"].get("Runs", [])
    check("table" in runs, "the runs table is under 'Runs'")
    check("figure" in page["sections"].get("Figures", []), "the figures are under 'Figures'")
    check(page["clientWidth"] == width, f"laid out at the screen's width ({page['clientWidth']} px; "
          "a phone lays a page without a viewport meta tag out at 980 px and shrinks it)")
    overflow = page["scrollWidth"] - page["clientWidth"]
    check(overflow <= 0, f"the page does not overflow sideways (by {overflow} px)")
    hidden = [t for t in page["wide"] if t["width"] > t["box"] and
              t["overflowX"] not in ("auto", "scroll")]
    check(not hidden, f"wide tables scroll in their own box ({sum(t['scrolls'] for t in page['wide'])}"
          f" of {len(page['wide'])} scroll at this width)")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width,
                              "height": min(page["height"], 6000), "scale": 1})
    png = base64.b64decode(shot["data"])
    name = f"{os.path.basename(os.path.dirname(path))}-{'phone' if width < 600 else 'desktop'}.png"
    with open(os.path.join(shots, name), "wb") as f:
        f.write(png)
    check(not blank(png), f"the screenshot is not blank ({name})")
    return page, failures


def main(argv):
    shots, reports = argv[0], argv[1:]
    os.makedirs(shots, exist_ok=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gradlab-chromium-") as profile:
        browser = Chromium(profile)
        try:
            for report in reports:
                for width in WIDTHS.values():
                    _, failed = inspect(browser, report, width, shots)
                    failures += len(failed)
        finally:
            browser.close()
    print(f"screenshots in {shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
