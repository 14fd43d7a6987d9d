"""``python -m flask_stripe_billing.offline PORT [--store FILE] [--parent-fd FD]``: run the offline Stripe on
127.0.0.1:PORT, keeping its objects in FILE across restarts (default: nowhere), and stopping when the pipe FD
reaches end of file (the parent process stopped or died)."""

from __future__ import annotations

import argparse

from .server import serve

if __name__ == "__main__":  # pragma: no cover - runs in the child process
    parser = argparse.ArgumentParser(prog="python -m flask_stripe_billing.offline")
    parser.add_argument("port", type=int)
    parser.add_argument("--store", metavar="FILE")
    parser.add_argument("--parent-fd", metavar="FD", type=int)
    args = parser.parse_args()
    serve(args.port, store_path=args.store, parent_fd=args.parent_fd)
