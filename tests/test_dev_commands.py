"""``python3 dev.py``: what it does before the tests and the demo (run as a new user would, on this .venv)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flask_stripe_billing.offline import free_port
from tests.factories.apps import POSTGRES_SKIP_REASON, POSTGRES_URL, load_dev_script

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dev_test_command() -> list[str]:
    """``dev.py test --version``: dev.py's preparations, then only ``pytest --version``."""
    dev = load_dev_script()
    if Path(sys.prefix).resolve() != dev.VENV.resolve() or not dev._installed(
        (ROOT / "pyproject.toml").read_bytes(), "test,lint,docs"
    ):
        pytest.skip("dev.py would install the test dependencies into .venv first")
    return [sys.executable, "dev.py", "test", "--version"]


def run_dev(command: list[str], postgres_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_POSTGRES_URL": postgres_url}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_demo_needs_no_install_after_the_tests() -> None:
    dev = load_dev_script()
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    extras = set(dev._requirements(pyproject, "test"))
    assert set(dev._requirements(pyproject, "demo")) <= extras
    assert not set(dev._requirements(pyproject, "bench")) <= extras


@pytest.fixture
def missing_database() -> Iterator[str]:
    """A URL like TEST_POSTGRES_URL's naming a database the server does not have (dropped afterwards)."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP_REASON)
    psycopg = pytest.importorskip("psycopg")
    url = make_url(POSTGRES_URL)
    name = f"{url.database}_made_by_dev_py"
    options = {"host": url.host, "port": url.port, "user": url.username, "password": url.password}

    def drop() -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **options) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')

    drop()
    yield url.set(database=name).render_as_string(hide_password=False)
    drop()


@pytest.mark.postgres
def test_dev_py_test_creates_the_postgres_database(dev_test_command: list[str], missing_database: str) -> None:
    first = run_dev(dev_test_command, missing_database)
    assert first.returncode == 0, first.stderr
    name = make_url(missing_database).database
    assert f"Created the PostgreSQL database {name} on " in first.stdout
    again = run_dev(dev_test_command, missing_database)
    assert again.returncode == 0, again.stderr
    assert "Created" not in again.stdout  # it exists now


def test_dev_py_test_says_when_postgres_is_unreachable(dev_test_command: list[str]) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    result = run_dev(dev_test_command, url)
    assert result.returncode == 0, result.stderr  # the tests still run (and the PostgreSQL ones fail)
    (line,) = [line for line in result.stdout.splitlines() if "PostgreSQL" in line]
    assert line.startswith("Could not reach PostgreSQL on 127.0.0.1:")
    assert "pytest" in result.stdout
