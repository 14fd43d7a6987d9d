"""``python -m example_app`` (``python3 dev.py demo``): run the demo on SQLite.

With no Stripe keys in the environment it starts an offline Stripe (localstripe on 127.0.0.1) and registers
the app's webhook endpoint with it, signed with a secret made for this run.  With ``STRIPE_API_KEY`` and
``STRIPE_PUBLISHABLE_KEY`` set it uses Stripe's test mode instead (set ``STRIPE_WEBHOOK_ENDPOINT_SECRET`` to
the secret ``stripe listen`` prints, to receive webhooks there).
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

from flask_stripe_billing.offline import OFFLINE_API_KEY, OFFLINE_PUBLISHABLE_KEY, AppServer, OfflineStripe

from . import OFFLINE_SETTINGS, create_app
from .seed import ADMIN_USER, DEMO_USER


def main() -> None:
    # A plain ``kill`` (SIGTERM) stops the demo like Ctrl-C: the offline Stripe and its settings file go too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
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
            offline = stack.enter_context(OfflineStripe())
            config = {
                "STRIPE_API_KEY": OFFLINE_API_KEY,
                "STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
                "STRIPE_API_BASE": offline.url,
                "STRIPE_JS_URL": offline.js_url,
                "STRIPE_WEBHOOK_ENDPOINT_SECRET": f"whsec_demo_{secrets.token_hex(16)}",
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
            "Test cards: 4242 4242 4242 4242 (works), 4000 0000 0000 0002 (declined), 4000 0027 6000 3184 (3-D Secure)"
        )
        # Not app.run(): see AppServer for why webhooks are better served by the standard library's server.
        AppServer(app, port, host=host, quiet=False).serve_forever()


if __name__ == "__main__":
    main()
