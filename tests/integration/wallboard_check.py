#!/usr/bin/env python3
"""Drive the hub's web wallboard in headless Chromium (Debian's `chromium`).

    wallboard_check.py STEPS.json

Chromium runs headless with the DevTools protocol over a pipe (--remote-debugging-pipe: file
descriptors 3 and 4, one JSON message per NUL), so nothing but the standard library is
needed. STEPS.json is a list of steps, run in order; the first that fails ends the run with
exit status 1 and says why on stderr:

  {"open": URL}                          load URL in the one tab
  {"wait": JS, "timeout": S, "what": T}  poll the expression until it is true (every 100 ms)
  {"expect": JS, "what": T}              the expression (awaited if a promise) must be true
  {"run": [ARGV...]}                     run a command; it must exit 0
  {"shot": PATH}                         save a PNG screenshot of the tab
  {"http": {"url", "method", "body", "cookie", "origin", "status"}}   a request of our own (TLS
                                         not verified: the test's CA), answered with that status
Each step's result is printed on stdout.
"""
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import http.client


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="relais-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        args = [os.environ.get("CHROMIUM", "chromium"), "--headless=new", "--remote-debugging-pipe",
                "--ignore-certificate-errors", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--window-size=1600,1000", "--user-data-dir=" + self.profile, "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root; this test only

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        log = os.environ.get("RELAIS_CHROMIUM_LOG")
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                                     stderr=open(log, "w") if log else subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def call(self, method, params=None, session=False, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium went away")
            self.buf += chunk
        raise RuntimeError("%s: no answer" % method)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                      session=True)
        if "exceptionDetails" in r:
            return None
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def http_step(h):
    u = urllib.parse.urlsplit(h["url"])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10) if u.scheme == "https" else \
        http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"Cookie": h["cookie"]} if h.get("cookie") else {}
    if h.get("origin"):
        headers["Origin"] = h["origin"]
    conn.request(h.get("method", "GET"), u.path or "/", body=h.get("body"), headers=headers)
    r = conn.getresponse()
    r.read(0)
    status = r.status
    conn.close()
    return status == h["status"], status


def run(steps):
    b = Browser()
    try:
        for i, s in enumerate(steps):
            what = s.get("what", "")
            if "open" in s:
                b.call("Page.navigate", {"url": s["open"]}, session=True)
                print("open", flush=True)
            elif "wait" in s:
                deadline = time.time() + s.get("timeout", 10)
                ok = False
                while time.time() < deadline and not ok:
                    ok = b.eval(s["wait"]) is True
                    if not ok:
                        time.sleep(0.1)
                if not ok:
                    print("step %d: timed out waiting for %s (%s)\npage: %s" %
                          (i, what, s["wait"], b.eval("document.body.innerText")), file=sys.stderr)
                    return 1
                print("wait ok:", what, flush=True)
            elif "expect" in s:
                v = b.eval(s["expect"])
                if v is not True:
                    print("step %d: %s: %s gave %r" % (i, what, s["expect"], v), file=sys.stderr)
                    return 1
                print("expect ok:", what, flush=True)
            elif "run" in s:
                r = subprocess.run(s["run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    print("step %d: %s exited %d: %s" % (i, s["run"], r.returncode, r.stdout.decode()),
                          file=sys.stderr)
                    return 1
                print("run ok:", os.path.basename(s["run"][0]), flush=True)
            elif "shot" in s:
                png = b.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
                os.makedirs(os.path.dirname(s["shot"]) or ".", exist_ok=True)
                with open(s["shot"], "wb") as f:
                    f.write(base64.b64decode(png))
                print("shot", s["shot"], flush=True)
            elif "http" in s:
                ok, status = http_step(s["http"])
                if not ok:
                    print("step %d: %s: got %d, want %d" % (i, what, status, s["http"]["status"]), file=sys.stderr)
                    return 1
                print("http ok:", what, status, flush=True)
        return 0
    finally:
        b.close()


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        sys.exit(run(json.load(f)))
