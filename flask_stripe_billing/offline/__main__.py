"""``python -m flask_stripe_billing.offline PORT``: run the offline Stripe on 127.0.0.1:PORT."""

from __future__ import annotations

import sys

from .server import serve

if __name__ == "__main__":  # pragma: no cover - runs in the child process
    serve(int(sys.argv[1]))
