"""Handing events to Celery over a real Redis broker, consumed by a real worker process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_stripe_billing.models import StripeWebhook, WebhookStatus
from tests import celery_host
from tests.factories.webhooks import URL, event, signed_headers

REDIS = ("127.0.0.1", 6379)
BROKER_URL = "redis://127.0.0.1:6379/15"


def redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not redis_reachable(), reason="Redis is not running on 127.0.0.1:6379 (.ci/run starts it)"
)


@pytest.fixture
def database_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'celery.sqlite'}"


@pytest.fixture
def worker(database_file: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": database_file, "CELERY_BROKER_URL": BROKER_URL}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_host",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_event_is_enqueued_after_commit_and_processed_by_the_worker(
    database_file: str, worker: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_file)
    celery_host.celery.conf.broker_url = BROKER_URL
    app = celery_host.create_app()
    with app.app_context():
        celery_host.hostapp.db.create_all()
        body = json.dumps(event("evt_celery", "customer.updated")).encode()
        response = app.test_client().post(URL, data=body, headers=signed_headers(body))
        response.close()
        assert response.status_code == 200
        session = celery_host.hostapp.db.session
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            session.expire_all()
            status = session.scalar(sa.select(StripeWebhook.status).where(StripeWebhook.id == "evt_celery"))
            if status == WebhookStatus.PROCESSED:
                break
            time.sleep(0.2)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert status == WebhookStatus.PROCESSED, log
        assert "process_stripe_event" in log
        session.remove()
        celery_host.hostapp.db.engine.dispose()
