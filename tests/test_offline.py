"""The offline Stripe used by the suite and the example app."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flask_stripe_billing.offline import OfflineStripe, UnreadableStore

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


def _customer_emails(server: OfflineStripe) -> list[str]:
    return sorted(customer["email"] for customer in server._call("GET", "/v1/customers")["data"])


def test_a_store_path_keeps_objects_across_restarts(tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    with OfflineStripe(store_path=str(store)) as server:
        server._call("POST", "/v1/customers", b"email=kept%40example.com")
        assert store.exists()  # saved after the request, before any stop
    with OfflineStripe(store_path=str(store)) as server:
        assert _customer_emails(server) == ["kept@example.com"]
        server.reset()
    with OfflineStripe(store_path=str(store)) as server:
        assert _customer_emails(server) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["store.pickle"]  # no temporary file left


def test_an_unreadable_store_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    store.write_bytes(b"\x80\x05 truncated")
    server = OfflineStripe(store_path=str(store))
    with pytest.raises(UnreadableStore):
        server.start()
    assert not server.is_up()
    assert store.read_bytes() == b"\x80\x05 truncated"


PARENT = """
import sys, time
from flask_stripe_billing.offline import OfflineStripe
server = OfflineStripe(store_path=sys.argv[1]).start()
server._call("POST", "/v1/customers", b"email=before-death%40example.com")
print(server.port, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(os.name != "posix", reason="the parent's death is seen through a pipe on POSIX")
def test_the_server_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    store = tmp_path / "store.pickle"
    parent = subprocess.Popen(  # the server's parent, killed without a chance to clean up
        [sys.executable, "-c", PARENT, str(store)], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _listening(port):
            time.sleep(0.1)
        assert not _listening(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
    with OfflineStripe(store_path=str(store)) as server:
        assert _customer_emails(server) == ["before-death@example.com"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0
