"""The demo (``python -m example_app``, ``python3 dev.py demo``) as a person runs it: started, used in a browser,
stopped and started again on the same instance folder; and stopped or killed without leaving anything running.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from example_app.seed import ADMIN_USER, DEMO_USER
from flask_stripe_billing.offline import OFFLINE_API_KEY, free_port
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories.apps import load_dev_script

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
NEXT_YEAR = str(time.gmtime().tm_year + 1)

pytestmark = pytest.mark.slow


class Demo:
    """The demo in a process of its own (its own session, so that nothing it starts can outlive the test)."""

    def __init__(self, instance: Path, command: list[str] | None = None) -> None:
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = instance.parent / f"demo-{self.port}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("STRIPE_", "FLASK_"))}
        # These restarts subscribe through the card form; Checkout is walked in tests/test_browser_checkout.py.
        env.update(
            PORT=str(self.port),
            EXAMPLE_APP_INSTANCE_PATH=str(instance),
            PYTHONUNBUFFERED="1",
            FLASK_STRIPE_CHECKOUT="false",
        )
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command or [sys.executable, "-m", "example_app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.offline_port = self._wait_until_up()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_until_up(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the demo exited:\n{self.output()}"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/", timeout=5) as response:  # noqa: S310 - 127.0.0.1
                    assert response.status == 200
                found = re.search(r"Offline Stripe \(localstripe\) running at http://127\.0\.0\.1:(\d+)", self.output())
                assert found, self.output()
                return int(found.group(1))
            time.sleep(0.2)
        raise AssertionError(f"the demo did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def stripe(self) -> stripe.StripeClient:
        """A client of the demo's offline Stripe."""
        base = f"http://127.0.0.1:{self.offline_port}"
        return stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": base}, max_network_retries=0)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Send *signum* to the demo's own process (not its group) and wait for it to end."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        finally:
            self.kill_leftovers()

    def kill_leftovers(self) -> None:
        """SIGKILL whatever of the demo's session still runs (only ever needed when a test fails)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until_closed(*ports: int) -> list[int]:
    """The ports among *ports* still listening after a bounded wait."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(listening(port) for port in ports):
        time.sleep(0.1)
    return [port for port in ports if listening(port)]


@contextlib.contextmanager
def demo_running(instance: Path, command: list[str] | None = None) -> Iterator[Demo]:
    demo = Demo(instance, command)
    try:
        yield demo
    finally:
        demo.stop()
    assert wait_until_closed(demo.port, demo.offline_port) == []


@contextlib.contextmanager
def browser_page(base_url: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: browser test skipped")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: browser test skipped")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(base_url=base_url)
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == []
        finally:
            browser.close()


def see(page: Any, text: str) -> None:
    """Wait for *text* on the page; failing, show what the page says instead."""
    try:
        page.get_by_text(text).first.wait_for()
    except Exception as exc:
        raise AssertionError(f"{text!r} not on {page.url}:\n{page.locator('body').inner_text()}") from exc


def log_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def add_card_as_typed(page: Any, number: str = "4242 4242 4242 4242") -> None:
    """Type a card as people do: the number in groups, a 4-digit year."""
    element = page.locator("#sb-card-element")
    element.locator("input[placeholder=number]").fill(number)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill(NEXT_YEAR)
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("10001")
    page.get_by_role("button", name="Save card").click()


def subscribe_with_a_new_card(page: Any, plan: str) -> None:
    page.goto("/billing/plans")
    page.get_by_role("button", name=f"Subscribe to {plan}").click()
    page.wait_for_url("**/billing/card**")
    add_card_as_typed(page)
    page.wait_for_url("**/billing/plans**")
    see(page, "Your card ending in 4242 is saved.")
    page.get_by_role("button", name=f"Subscribe to {plan}").click()
    page.wait_for_url("**/billing/account")
    see(page, f"you are subscribed to {plan}")


def subscribe_the_demo_user_and_stop(instance: Path) -> None:
    """First start: the demo user adds a card, as typed, and subscribes to Starter; then the demo stops."""
    with demo_running(instance) as demo, browser_page(demo.url) as page:
        log_in(page, *DEMO_USER)
        subscribe_with_a_new_card(page, "Starter")
    kept = {path.name for path in instance.iterdir()}
    assert {"demo.sqlite", "offline-stripe.pickle", "offline-stripe-webhook-secret"} <= kept


def test_a_second_start_finds_what_the_first_one_made(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    subscribe_the_demo_user_and_stop(instance)
    secret = (instance / "offline-stripe-webhook-secret").read_text()

    with demo_running(instance) as demo:
        assert "afresh" not in demo.output()
        assert (instance / "offline-stripe-webhook-secret").read_text() == secret
        offline = demo.stripe()
        (customer,) = offline.v1.customers.list(params={"email": DEMO_USER[0]}).data
        methods = offline.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data
        sources = offline.v1.customers.payment_sources.list(customer.id).data
        assert [m.card.last4 for m in methods if m.card] + [getattr(s, "last4", None) for s in sources] == ["4242"]
        (subscription,) = offline.v1.subscriptions.list(params={"customer": customer.id}).data
        assert subscription.status == "active"
        with browser_page(demo.url) as page:
            log_in(page, *DEMO_USER)
            page.goto("/billing/account")
            cards = page.locator("#sb-cards")
            assert cards.get_by_text("•••• 4242").is_visible()
            assert cards.get_by_text(f"expires 12/{NEXT_YEAR}").is_visible()
            assert page.locator("#sb-subscriptions").get_by_text("Starter").first.is_visible()
            page.get_by_role("button", name="Log out").click()
            log_in(page, *ADMIN_USER)
            subscribe_with_a_new_card(page, "Starter")
        assert len(offline.v1.subscriptions.list().data) == 2


def test_an_existing_subscriber_switches_plan_after_a_restart(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    subscribe_the_demo_user_and_stop(instance)
    with demo_running(instance) as demo, browser_page(demo.url) as page:
        log_in(page, *DEMO_USER)
        page.goto("/billing/plans")
        page.get_by_role("button", name="Switch to Pro yearly").click()
        page.wait_for_url("**/billing/account")
        see(page, "Your plan is now Pro yearly.")
        (subscription,) = demo.stripe().v1.subscriptions.list().data
        assert subscription["items"].data[0].plan.amount == 29000


def test_after_a_restart_a_subscription_needing_3d_secure_is_confirmed_with_a_coupon(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    subscribe_the_demo_user_and_stop(instance)
    with demo_running(instance) as demo, browser_page(demo.url) as page:
        log_in(page, *ADMIN_USER)
        page.goto("/billing/card")
        add_card_as_typed(page, "4000 0027 6000 3184")
        page.get_by_role("button", name="Complete authentication").click()  # saving the card asks first
        page.wait_for_url("**/billing/account")
        page.goto("/billing/plans")
        page.fill("#sb-coupon-code", "WELCOME10")
        page.get_by_role("button", name="Subscribe to Starter").click()
        page.wait_for_url("**/billing/subscriptions/*/confirm")
        see(page, "$8.10")  # the first invoice, 10% off
        page.get_by_role("button", name="Confirm payment").click()
        page.get_by_role("button", name="Complete authentication").click()
        page.wait_for_url("**/billing/account")
        see(page, "Thank you: you are subscribed to Starter.")
        subscriptions = demo.stripe().v1.subscriptions.list().data
        assert sorted(subscription.status for subscription in subscriptions) == ["active", "active"]


@pytest.mark.parametrize("lost", ["offline-stripe.pickle", "demo.sqlite"])
def test_a_lost_store_or_database_starts_both_afresh(tmp_path: Path, lost: str) -> None:
    instance = tmp_path / "instance"
    with demo_running(instance):
        pass
    (instance / lost).unlink()
    with demo_running(instance) as demo:
        assert "starting its database and offline Stripe afresh" in demo.output()
        # The plans are made again at the offline Stripe: subscribing finds them.
        assert {plan.amount for plan in demo.stripe().v1.plans.list().data} == {900, 2900, 29000}


def test_an_unreadable_store_starts_both_afresh(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with demo_running(instance):
        pass
    (instance / "offline-stripe.pickle").write_bytes(b"not a store")
    with demo_running(instance) as demo:
        assert "cannot be read: starting the demo's database and offline Stripe afresh" in demo.output()
        assert len(demo.stripe().v1.plans.list().data) == 3


def _dev_py_needs_no_install() -> bool:
    dev = load_dev_script()
    same_venv = Path(sys.prefix).resolve() == dev.VENV.resolve()
    return same_venv and bool(dev._installed((ROOT / "pyproject.toml").read_bytes(), "demo"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("via", ["python -m example_app", "python3 dev.py demo"])
def test_stopping_or_killing_the_demo_stops_everything(tmp_path: Path, signum: int, via: str) -> None:
    command = None
    if via.startswith("python3 dev.py"):
        if not _dev_py_needs_no_install():
            pytest.skip("dev.py would install the demo's dependencies into .venv first")
        command = [sys.executable, "dev.py", "demo"]
    demo = Demo(tmp_path / "instance", command)
    try:
        assert listening(demo.port)
        assert listening(demo.offline_port)
        demo.process.send_signal(signum)  # the process the command started, as a plain `kill` would
        demo.process.wait(timeout=STOP_TIMEOUT)
        assert wait_until_closed(demo.port, demo.offline_port) == []
        if signum == signal.SIGTERM:
            assert not (tmp_path / "instance" / "offline-stripe.json").exists()
    finally:
        demo.kill_leftovers()


def test_the_offline_settings_file_points_at_the_running_offline_stripe(tmp_path: Path) -> None:
    with demo_running(tmp_path / "instance") as demo:
        settings = json.loads((tmp_path / "instance" / "offline-stripe.json").read_text())
        assert settings["STRIPE_API_BASE"] == f"http://127.0.0.1:{demo.offline_port}"
