"""What the browser tests share: Debian's Chromium (never a downloaded browser) and filling the card element.

No Playwright import here, so that a module using these names is not skipped as a whole where Playwright is
missing: each browser test skips itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def fill_card(page: Any, number: str, within: str = "#sb-card-element") -> None:
    """Type a card into the card element *within* (the offline Stripe.js renders plain inputs, named by
    placeholder); the offline Checkout and Portal pages mount theirs in ``.sb-card``."""
    element = page.locator(within)
    element.locator("input[placeholder=number]").fill(number)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("10001")


class Walk:
    """A browser tab on the served example app that records failed requests and script errors, and numbers
    its screenshots in the order taken."""

    def __init__(self, page: Any, folder: Path, url: str = "") -> None:
        self.page = page
        #: Where the application is served.
        self.url = url
        self.folder = folder
        self.count = 0
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def shoot(self, name: str) -> None:
        """Screenshot the whole page, after checking it does not scroll sideways."""
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"

    def flash(self, category: str, text: str) -> None:
        """Wait for a flash of *category* saying *text*."""
        self.page.locator(f".flash-{category}", has_text=text).wait_for()

    def expect_failures(self, *statuses: int) -> None:
        """The requests that failed since the last check had exactly these statuses (the pages asked for)."""
        assert [int(line.split()[0]) for line in self.failed] == list(statuses), self.failed
        self.failed.clear()
