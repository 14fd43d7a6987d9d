#!/usr/bin/env python3
"""Follow the README on this checkout: start ``python3 dev.py demo``, wait for the home page, log in with the
demo user the command prints, load the pricing page, and stop the demo with a plain ``kill`` of the command's
process, checking that nothing it started keeps running.  Standard library only."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 300  # the first run installs the demo's dependencies into .venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = ROOT / ".ci" / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}  # the offline Stripe, as documented
    env["PORT"] = str(port)
    with open(log_path, "wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "dev.py", "demo"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        home = wait_for(opener, base + "/", demo, log_path)
        assert "Acme Analytics" in home, "the home page does not look like the example app"
        print(f"demo: home page answered on {base}/")
        email, password = demo_login(log_path)
        login_page = fetch(opener, base + "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
        assert token, "the log-in form has no CSRF token"
        form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
        after = fetch(opener, base + "/login", form.encode())
        assert "Log out" in after, "logging in with the demo user failed"
        print(f"demo: logged in as {email}")
        pricing = fetch(opener, base + "/billing/plans")
        assert "Pro yearly" in pricing, "the pricing page does not list the demo plans"
        print("demo: pricing page lists the plans")
    finally:
        demo.send_signal(signal.SIGTERM)  # the command's own process only, as `kill PID` would
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
            sys.exit("demo: did not stop within 20 s of SIGTERM")
    left = leftovers(demo.pid)
    if left:
        os.killpg(demo.pid, signal.SIGKILL)
        sys.exit(f"demo: still running after the demo stopped: {', '.join(left)}")
    print("demo: stopped, and nothing it started is left running")


def leftovers(group: int, wait: float = 20.0) -> list[str]:
    """The processes of the demo's process group still alive after *wait* seconds (Linux: read from /proc)."""
    deadline = time.monotonic() + wait
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                alive.append(stat.parent.name)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def wait_for(opener: urllib.request.OpenerDirector, url: str, demo: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            sys.exit(f"demo: exited with status {demo.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            return fetch(opener, url)
        except OSError:
            time.sleep(1)
    sys.exit(f"demo: no answer on {url} within {STARTUP_TIMEOUT} s:\n{log.read_text(errors='replace')[-4000:]}")


def demo_login(log: Path) -> tuple[str, str]:
    found = re.search(r"Log in as (\S+) / (\S+)", log.read_text(errors="replace"))
    if not found:
        sys.exit("demo: the demo command did not print the demo login")
    return found.group(1), found.group(2)


def fetch(opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None) -> str:
    with opener.open(url, data=data, timeout=30) as response:
        return response.read().decode("utf-8")


if __name__ == "__main__":
    main()
