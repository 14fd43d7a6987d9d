"""The offline Stripe used by the suite and the example app."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from flask_stripe_billing.offline import OfflineStripe

LOCALSTRIPE_DUMP = Path("/tmp/localstripe.pickle")  # where localstripe would save its store


def _dump_state() -> float | None:
    return LOCALSTRIPE_DUMP.stat().st_mtime if LOCALSTRIPE_DUMP.exists() else None


def test_keeps_nothing_on_disk_and_forgets_on_reset(offline_stripe: OfflineStripe) -> None:
    before = _dump_state()
    offline_stripe._call("POST", "/v1/customers", b"email=a%40example.com")
    assert offline_stripe._call("GET", "/v1/customers")["data"]
    offline_stripe.reset()
    assert offline_stripe._call("GET", "/v1/customers")["data"] == []
    assert _dump_state() == before


def test_listens_on_loopback_only(offline_stripe: OfflineStripe) -> None:
    assert offline_stripe.url.startswith("http://127.0.0.1:")
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for address in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            assert sock.connect_ex((address, offline_stripe.port)) != 0


def test_start_stop(tmp_path: Path) -> None:
    server = OfflineStripe(log_path=str(tmp_path / "log")).start()
    try:
        assert server.is_up()
    finally:
        server.stop()
    assert not server.is_up()
    assert os.path.exists(tmp_path / "log")
