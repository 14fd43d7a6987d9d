#!/usr/bin/env python3
"""Project commands that work on a fresh machine with only Python 3.11+.

    python3 dev.py test [PYTEST ARGS]   run the whole test suite (creates .venv on first use)
    python3 dev.py check                ruff, mypy and the documentation build (warnings as errors)
    python3 dev.py demo                 run the example app on SQLite with an offline Stripe

Set TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/flask_stripe_billing_test) and
TEST_MARIADB_URL (e.g. mysql+pymysql://user:password@127.0.0.1:3306/flask_stripe_billing_test?charset=utf8mb4) to run
the PostgreSQL and MariaDB parts of the test matrix (`test` creates the PostgreSQL database if the server does not
have it yet); without them those tests are skipped with the reason shown.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _stamp_digest(pyproject: bytes, extras: str) -> str:
    return hashlib.sha256(pyproject + extras.encode()).hexdigest()


def _installed(pyproject: bytes, extras: str) -> bool:
    """Whether .venv has *extras* installed for this pyproject.toml: by their own stamp, or by the stamp of
    other extras that require everything *extras* require (the demo's come with the tests')."""
    wanted = {requirement for extra in extras.split(",") for requirement in _requirements(pyproject, extra)}
    for stamp in VENV.glob(".installed-*"):
        installed = stamp.name.removeprefix(".installed-").replace("-", ",")
        if stamp.read_text() != _stamp_digest(pyproject, installed):
            continue
        if installed == extras or wanted <= {
            r for extra in installed.split(",") for r in _requirements(pyproject, extra)
        }:
            return True
    return False


def _requirements(pyproject: bytes, extra: str) -> list[str]:
    optional = tomllib.loads(pyproject.decode())["project"].get("optional-dependencies", {})
    return [requirement.replace(" ", "") for requirement in optional.get(extra, [f"<unknown extra {extra}>"])]


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project with *extras*, again only when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("flask-stripe-billing needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    digest = _stamp_digest(pyproject, extras)
    stamp = VENV / f".installed-{extras.replace(',', '-')}"
    if _installed(pyproject, extras):
        return
    print(f"Installing flask-stripe-billing[{extras}] into {VENV} ...", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    stamp.write_text(digest)


def run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


# Run by the virtual environment's Python, which has psycopg: create the database TEST_POSTGRES_URL names.
CREATE_TEST_DATABASE = """
import sys
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
if not url.database:
    sys.exit()
where = f"{url.host or 'localhost'}:{url.port or 5432}"
options = {"host": url.host, "port": url.port, "user": url.username, "password": url.password, **url.query}
try:
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **options) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [url.database]).fetchone()
        if not found:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
            print(f"Created the PostgreSQL database {url.database} on {where} for the tests.", flush=True)
except psycopg.Error as exc:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"Could not reach PostgreSQL on {where} to create {url.database}: {reason}", flush=True)
"""

# The same for TEST_MARIADB_URL (MariaDB or MySQL, through PyMySQL).
CREATE_MARIADB_DATABASE = """
import sys
import pymysql
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
if not url.database:
    sys.exit()
where = f"{url.host or 'localhost'}:{url.port or 3306}"
try:
    connection = pymysql.connect(
        host=url.host or "localhost", port=url.port or 3306, user=url.username, password=url.password or "",
        connect_timeout=5, autocommit=True,
    )
    with connection, connection.cursor() as cursor:
        if not cursor.execute("SHOW DATABASES LIKE %s", [url.database]):
            name = url.database.replace("`", "``")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            print(f"Created the MariaDB database {url.database} on {where} for the tests.", flush=True)
except pymysql.MySQLError as exc:
    print(f"Could not reach MariaDB on {where} to create {url.database}: {exc}", flush=True)
"""


def ensure_test_database() -> None:
    """Create the databases named in TEST_POSTGRES_URL and TEST_MARIADB_URL if their servers are up and lack
    them (one line printed when it creates one or cannot reach a server; those tests then fail as they would)."""
    for variable, script in (
        ("TEST_POSTGRES_URL", CREATE_TEST_DATABASE),
        ("TEST_MARIADB_URL", CREATE_MARIADB_DATABASE),
    ):
        url = os.environ.get(variable)
        if url:
            subprocess.run([str(PYTHON), "-c", script, url], cwd=ROOT, check=False)


def test(args: list[str]) -> None:
    ensure_venv("test,lint,docs")
    ensure_test_database()
    run([str(PYTHON), "-m", "pytest", *args])


def check() -> None:
    ensure_venv("test,lint,docs")
    run([str(BIN / "ruff"), "check", "."])
    run([str(BIN / "ruff"), "format", "--check", "."])
    run([str(BIN / "mypy")])
    run([str(BIN / "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html"])


def demo() -> None:
    ensure_venv("demo")
    command = [str(PYTHON), "-m", "example_app"]
    if os.name != "posix":
        run(command)
        return
    # Become the demo (same process id), so that stopping or killing this command stops the demo itself, and
    # the demo stops its offline Stripe.
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(ROOT)
    os.execv(command[0], command)  # noqa: S606 - our own virtual environment's Python


def main() -> None:
    commands = {"test": lambda: test(sys.argv[2:]), "check": check, "demo": demo}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
