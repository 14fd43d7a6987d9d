"""Webhook ingest: events per second and latency of our endpoint against a bare verify-and-INSERT route.

    python bench/webhook_ingest.py [--events 1000] [--http-events 2000]

Measures our endpoint twice, processing each event in the web process (``inline``, the default) and handing it
to a queue (``hand-off``, ``STRIPE_WEBHOOK_EVENT_CALLBACK`` as in the Celery recipe). Runs in-process (Flask's
test client, one request at a time) and over HTTP (gunicorn, 2 workers, 4 client
threads) on SQLite, and on PostgreSQL when ``BENCH_POSTGRES_URL`` (or ``TEST_POSTGRES_URL``) is set. Every
figure is measured in the same run for both applications; the ratio is ours / baseline (higher is better).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import webhook_apps  # noqa: E402
from flask_stripe_billing.offline import free_port  # noqa: E402


def signed_event() -> tuple[bytes, dict[str, str]]:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(webhook_apps.SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


def summarise(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def in_process(factory: Callable[[], object], events: int) -> dict[str, float]:
    app = factory()
    client = app.test_client()  # type: ignore[attr-defined]
    payloads = [signed_event() for _ in range(events)]
    latencies = []
    started = time.perf_counter()
    for body, headers in payloads:
        begin = time.perf_counter()
        response = client.post("/billing/webhooks", data=body, headers=headers)
        response.close()  # as a server would: our processing runs here, after the answer
        assert response.status_code == 200, response.status_code
        latencies.append(time.perf_counter() - begin)
    return summarise(latencies, time.perf_counter() - started)


@contextmanager
def gunicorn(target: str, database_url: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def over_http(port: int, events: int, threads: int = 4) -> dict[str, float]:
    payloads = [signed_event() for _ in range(events)]

    def send(chunk: list[tuple[bytes, dict[str, str]]]) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies = []
        for body, headers in chunk:
            begin = time.perf_counter()
            connection.request("POST", "/billing/webhooks", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            latencies.append(time.perf_counter() - begin)
        return latencies

    chunks = [payloads[i::threads] for i in range(threads)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, chunks))
    return summarise([latency for chunk in results for latency in chunk], time.perf_counter() - started)


def report(label: str, ours: dict[str, float], base: dict[str, float]) -> None:
    print(
        f"{label:<38} ours {ours['rate']:7.0f}/s p50 {ours['p50_ms']:6.2f} ms p99 {ours['p99_ms']:6.2f} ms | "
        f"baseline {base['rate']:7.0f}/s p50 {base['p50_ms']:6.2f} ms p99 {base['p99_ms']:6.2f} ms | "
        f"ratio {ours['rate'] / base['rate']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000, help="events per in-process measurement")
    parser.add_argument("--http-events", type=int, default=2000, help="events per HTTP measurement")
    args = parser.parse_args()
    databases = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"}
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if postgres:
        databases["postgresql"] = postgres
    else:
        print("PostgreSQL skipped: set BENCH_POSTGRES_URL to include it.")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); ratio = ours / baseline events per second")
    for name, url in databases.items():
        os.environ["DATABASE_URL"] = url
        for label, factory in (("inline", "ours"), ("hand-off", "ours_handoff")):
            webhook_apps.reset_schema()
            report(
                f"{name} in-process, {label}",
                in_process(getattr(webhook_apps, factory), args.events),
                in_process(webhook_apps.baseline, args.events),
            )
            webhook_apps.reset_schema()
            with gunicorn(f"bench.webhook_apps:{factory}()", url) as port:
                ours = over_http(port, args.http_events)
            with gunicorn("bench.webhook_apps:baseline()", url) as port:
                base = over_http(port, args.http_events)
            report(f"{name} HTTP (2 workers), {label}", ours, base)


if __name__ == "__main__":
    main()
