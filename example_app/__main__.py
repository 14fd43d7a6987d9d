"""``python -m example_app``: run the demo on SQLite, with an offline Stripe unless real test keys are given."""

from __future__ import annotations

import contextlib
import os

from flask_stripe_billing.offline import OFFLINE_API_KEY, OFFLINE_PUBLISHABLE_KEY, OfflineStripe

from . import create_app


def main() -> None:
    port = int(os.environ.get("PORT", "5000"))
    real_stripe = bool(os.environ.get("STRIPE_API_KEY"))
    with contextlib.ExitStack() as stack:
        if real_stripe:
            config = {
                "STRIPE_API_KEY": os.environ["STRIPE_API_KEY"],
                "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY"),
            }
            print("Using Stripe test mode with the keys from the environment.")
        else:
            offline = stack.enter_context(OfflineStripe())
            config = {
                "STRIPE_API_KEY": OFFLINE_API_KEY,
                "STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
                "STRIPE_API_BASE": offline.url,
                "STRIPE_JS_URL": offline.js_url,
            }
            print(f"Offline Stripe (localstripe) running at {offline.url}")
        app = create_app(config)
        print(f"Example app: http://127.0.0.1:{port}/")
        app.run(host="127.0.0.1", port=port, use_reloader=False)


if __name__ == "__main__":
    main()
