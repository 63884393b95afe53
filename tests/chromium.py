"""Drive Debian's headless Chromium over the DevTools protocol, stdlib only.

``--remote-debugging-pipe`` makes Chromium read protocol commands from file
descriptor 3 and write replies and events to descriptor 4, each message one
JSON text ended by a NUL byte (Chromium ``content/browser/devtools/
devtools_pipe_handler.cc``). Nothing listens on a port and nothing is
downloaded: the browser is the distribution's ``chromium`` package.

    with Browser() as b:
        page = b.new_page(width=1280, height=900, scheme="dark")
        page.goto("file:///tmp/x.html")
        page.wait_for("document.documentElement.dataset.wdfdbgRendered === 'complete'")
        page.evaluate("document.querySelectorAll('[data-address]').length")
        page.screenshot("/tmp/x.png")
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe"]


def chromium_path():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(Exception):
    pass


class Browser(object):
    def __init__(self, exe=None, timeout=60):
        self.exe = exe or chromium_path()
        if not self.exe:
            raise BrowserError("chromium is not installed")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="wdfdbg-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def child_fds():
            # move both ends out of the way first: either may already be 3 or 4
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            a2, b2 = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(a2, 3)
            os.dup2(b2, 4)

        self.proc = subprocess.Popen([self.exe] + FLAGS + ["--user-data-dir=%s" % self.profile, "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     close_fds=False, preexec_fn=child_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._replies = {}
        self.events = []
        self._cond = threading.Condition()
        self._closed = False
        self._stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            if len(self._stderr) < 200:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _read(self):
        buf = b""
        while True:
            try:
                data = os.read(self._r, 1 << 16)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += data
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw.decode("utf-8"))
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()

    def send(self, method, params=None, session=None, timeout=None):
        with self._cond:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode("utf-8") + b"\0")
        deadline = time.time() + (timeout or self.timeout)
        with self._cond:
            while mid not in self._replies:
                if self._closed:
                    raise BrowserError("chromium exited: %s" % " | ".join(self._stderr[-5:]))
                left = deadline - time.time()
                if left <= 0:
                    raise BrowserError("no reply to %s in %.0f s" % (method, timeout or self.timeout))
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise BrowserError("%s: %s" % (method, reply["error"].get("message")))
        return reply.get("result", {})

    def wait_event(self, method, session=None, timeout=None, since=0):
        deadline = time.time() + (timeout or self.timeout)
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                        return ev
                left = deadline - time.time()
                if left <= 0 or self._closed:
                    raise BrowserError("no %s event in %.0f s" % (method, timeout or self.timeout))
                self._cond.wait(left)

    def new_page(self, width=1280, height=900, scheme="light"):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for method in ("Page.enable", "Network.enable", "Runtime.enable", "Log.enable"):
            self.send(method, session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": False}, session=session)
        self.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
                  session=session)
        return page

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page(object):
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def send(self, method, params=None, timeout=None):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def goto(self, url, timeout=None):
        mark = len(self.browser.events)
        self.send("Page.navigate", {"url": url}, timeout=timeout)
        self.browser.wait_event("Page.loadEventFired", session=self.session, timeout=timeout, since=mark)

    def evaluate(self, expression, timeout=None):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("%s: %s" % (d.get("text"), (d.get("exception") or {}).get("description")))
        return r.get("result", {}).get("value")

    def wait_for(self, expression, timeout=60, poll=0.05):
        deadline = time.time() + timeout
        while True:
            if self.evaluate("!!(%s)" % expression):
                return
            if time.time() > deadline:
                raise BrowserError("timed out waiting for %s" % expression)
            time.sleep(poll)

    def press(self, key, code=None, text=None):
        """A key press as the user makes it (keyDown then keyUp)."""
        codes = {"ArrowDown": 40, "ArrowUp": 38, "ArrowLeft": 37, "ArrowRight": 39, "Enter": 13, "Home": 36,
                 "End": 35, "Escape": 27, "Tab": 9, " ": 32}
        params = {"type": "keyDown", "key": key, "code": code or key,
                  "windowsVirtualKeyCode": codes.get(key, 0)}
        if text:
            params["text"] = text
        self.send("Input.dispatchKeyEvent", params)
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code or key,
                                             "windowsVirtualKeyCode": codes.get(key, 0)})

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def requests(self):
        """URLs the page asked for (Network.requestWillBeSent), in order."""
        return [ev["params"]["request"]["url"] for ev in self.browser.events
                if ev.get("method") == "Network.requestWillBeSent" and ev.get("sessionId") == self.session]

    def console_errors(self):
        out = []
        for ev in self.browser.events:
            if ev.get("sessionId") != self.session:
                continue
            if ev.get("method") == "Log.entryAdded" and ev["params"]["entry"].get("level") == "error":
                out.append(ev["params"]["entry"].get("text"))
            if ev.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(ev["params"]["exceptionDetails"])[:300])
        return out
