"""What the browser tests share: Debian's Chromium (never a downloaded browser) and filling the card element.

No Playwright import here, so that a module using these names is not skipped as a whole where Playwright is
missing: each browser test skips itself.
"""

from __future__ import annotations

import os
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


def fill_card(page: Any, number: str) -> None:
    """Type a card into the card element (the offline Stripe.js renders plain inputs, named by placeholder)."""
    element = page.locator("#sb-card-element")
    element.locator("input[placeholder=number]").fill(number)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("10001")
