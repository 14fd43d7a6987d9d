"""``python -m example_app`` (``python3 dev.py demo``): run the demo on SQLite.

With no Stripe keys in the environment it starts an offline Stripe (localstripe on 127.0.0.1) and registers
the app's webhook endpoint with it, signed with a secret made on first start.  The offline Stripe's objects and
that secret are kept in the instance folder beside the database (``offline-stripe.pickle``,
``offline-stripe-webhook-secret``; its output goes to ``offline-stripe.log``), so that a second start finds
the cards and subscriptions the database knows.  When one of the two is missing or unreadable, both start
afresh.  With ``STRIPE_API_KEY`` and ``STRIPE_PUBLISHABLE_KEY`` set it uses Stripe's test mode instead (set
``STRIPE_WEBHOOK_ENDPOINT_SECRET`` to the secret ``stripe listen`` prints, to receive webhooks there).

``HOST`` and ``PORT`` choose where the app listens (default 127.0.0.1:5000), ``EXAMPLE_APP_INSTANCE_PATH`` its
instance folder.  Stopping the demo (Ctrl-C, ``SIGTERM``, ``SIGHUP``) stops the offline Stripe too, which
also stops by itself if the demo is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from flask_stripe_billing.offline import (
    OFFLINE_API_KEY,
    OFFLINE_PUBLISHABLE_KEY,
    AppServer,
    OfflineStripe,
    UnreadableStore,
)

from . import DATABASE, OFFLINE_SETTINGS, create_app, instance_folder
from .seed import ADMIN_USER, DEMO_USER

#: The offline Stripe's objects and the webhook signing secret, kept in the instance folder across restarts.
OFFLINE_STORE = "offline-stripe.pickle"
WEBHOOK_SECRET = "offline-stripe-webhook-secret"
#: What the offline Stripe prints (its errors), appended to at each start.
OFFLINE_LOG = "offline-stripe.log"


def _uses_demo_database() -> bool:
    return not (os.environ.get("FLASK_SQLALCHEMY_DATABASE_URI") or os.environ.get("SQLALCHEMY_DATABASE_URI"))


def _start_afresh(instance: Path) -> None:
    """Delete the demo's database and offline Stripe store (and the database's SQLite side files)."""
    names = [OFFLINE_STORE, WEBHOOK_SECRET]
    if _uses_demo_database():
        names += [DATABASE, f"{DATABASE}-journal", f"{DATABASE}-wal", f"{DATABASE}-shm"]
    for name in names:
        (instance / name).unlink(missing_ok=True)


def start_offline_stripe(instance: Path) -> tuple[OfflineStripe, str]:
    """Start the offline Stripe on the store kept in *instance*, and return it with the webhook secret.

    The database and the store are only used together: if just one of them exists, or the store cannot be
    read, both are deleted first (with a one-line message).
    """
    instance.mkdir(parents=True, exist_ok=True)
    store = instance / OFFLINE_STORE
    database = instance / DATABASE
    if _uses_demo_database() and database.exists() != store.exists():
        missing = "offline Stripe store" if database.exists() else "database"
        print(f"The demo's {missing} is missing: starting its database and offline Stripe afresh.", flush=True)
        _start_afresh(instance)
    offline = OfflineStripe(store_path=str(store), log_path=str(instance / OFFLINE_LOG))
    try:
        offline.start()
    except UnreadableStore:
        print(f"{store} cannot be read: starting the demo's database and offline Stripe afresh.", flush=True)
        _start_afresh(instance)
        offline.start()
    secret_file = instance / WEBHOOK_SECRET
    if not secret_file.exists():
        secret_file.write_text(f"whsec_demo_{secrets.token_hex(16)}\n")
        secret_file.chmod(0o600)
    return offline, secret_file.read_text().strip()


def main() -> None:
    # A plain ``kill`` (SIGTERM) or a closed terminal (SIGHUP) stops the demo like Ctrl-C: the offline Stripe
    # saves its store and stops, and the settings file goes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: sys.exit(0))
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    with contextlib.ExitStack() as stack:
        config: dict[str, Any]
        if os.environ.get("STRIPE_API_KEY"):
            config = {
                "STRIPE_API_KEY": os.environ["STRIPE_API_KEY"],
                "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY"),
                "STRIPE_WEBHOOK_ENDPOINT_SECRET": os.environ.get("STRIPE_WEBHOOK_ENDPOINT_SECRET"),
            }
            print("Using Stripe test mode with the keys from the environment.", flush=True)
        else:
            offline, webhook_secret = start_offline_stripe(Path(instance_folder()))
            stack.callback(offline.stop)
            config = {
                "STRIPE_API_KEY": OFFLINE_API_KEY,
                "STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
                "STRIPE_API_BASE": offline.url,
                "STRIPE_JS_URL": offline.js_url,
                "STRIPE_WEBHOOK_ENDPOINT_SECRET": webhook_secret,
            }
            print(f"Offline Stripe (localstripe) running at {offline.url}", flush=True)
        app = create_app(config)
        if not os.environ.get("STRIPE_API_KEY"):
            settings = Path(app.instance_path) / OFFLINE_SETTINGS
            settings.write_text(json.dumps(config))
            stack.callback(settings.unlink, missing_ok=True)
            webhook_url = f"http://127.0.0.1:{port}{app.config['STRIPE_URL_PREFIX']}{app.config['STRIPE_WEBHOOK_URL']}"
            offline.register_webhook("example-app", webhook_url, config["STRIPE_WEBHOOK_ENDPOINT_SECRET"])
            print(f"Its webhooks go to {webhook_url}", flush=True)
        print(f"Example app: http://{host}:{port}/", flush=True)
        print(f"Log in as {DEMO_USER[0]} / {DEMO_USER[1]} (admin: {ADMIN_USER[0]} / {ADMIN_USER[1]})", flush=True)
        print(
            "Test cards: 4242 4242 4242 4242 (works), 4000 0000 0000 0002 (declined), 4000 0027 6000 3184 (3-D Secure)",
            flush=True,
        )
        # Not app.run(): see AppServer for why webhooks are better served by the standard library's server.
        AppServer(app, port, host=host, quiet=False).serve_forever()


if __name__ == "__main__":
    main()
