#!/usr/bin/env python3
"""Project commands that work on a fresh machine with only Python 3.11+.

    python3 dev.py test [PYTEST ARGS]   run the whole test suite (creates .venv on first use)
    python3 dev.py check                ruff, mypy and the documentation build (warnings as errors)
    python3 dev.py demo                 run the example app on SQLite with an offline Stripe

Set TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/flask_stripe_billing_test) to run the
PostgreSQL half of the test matrix; without it those tests are skipped with the reason shown.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project with *extras*, again only when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("flask-stripe-billing needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras.replace(',', '-')}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing flask-stripe-billing[{extras}] into {VENV} ...", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    stamp.write_text(digest)


def run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


def test(args: list[str]) -> None:
    ensure_venv("test,lint,docs")
    run([str(PYTHON), "-m", "pytest", *args])


def check() -> None:
    ensure_venv("test,lint,docs")
    run([str(BIN / "ruff"), "check", "."])
    run([str(BIN / "ruff"), "format", "--check", "."])
    run([str(BIN / "mypy")])
    run([str(BIN / "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html"])


def demo() -> None:
    ensure_venv("demo")
    run([str(PYTHON), "-m", "example_app"])


def main() -> None:
    commands = {"test": lambda: test(sys.argv[2:]), "check": check, "demo": demo}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
