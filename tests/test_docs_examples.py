"""The documentation's examples: every Python block compiles, and the programs the pages give run as written.

A block whose first line is a file name comment (``# myapp.py``) is a file the reader saves; :data:`PROGRAMS`
says which page's files the tests below write and run, so that a new one cannot go untested.  Other blocks are
fragments (a view's decorator, a call in context): they are compiled.  Console commands are taken from the
pages and run in a temporary folder, against an offline Stripe of the test's own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import stripe

from flask_stripe_billing.offline import OFFLINE_API_KEY, OFFLINE_PUBLISHABLE_KEY, OfflineStripe, free_port
from flask_stripe_billing.web import gate

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(path.name for path in DOCS.glob("*.rst"))

#: The files each page gives in full, all written and run by a test of this module.
PROGRAMS = {
    "quickstart.rst": {"myapp.py", "add_plan.py"},
    "testing.rst": {"conftest.py", "test_billing.py"},
    "offline.rst": {"offline_dev.py"},
}

#: Fragments that only compile inside a function (the page shows a view's body): (page, a line of it).
FUNCTION_BODIES = {("charges.rst", "return redirect(exc.confirm_url)")}

_BLOCK = re.compile(
    r"^(?P<indent> *)\.\. code-block:: (?P<language>\w+)\n(?:(?P=indent) +:.*\n)*"
    r"(?P<body>(?:(?P=indent) +\S.*\n|[ \t]*\n)*)",
    re.MULTILINE,
)
_HEADING = re.compile(r"^(\S.*)\n([=\-~^])\2+\n", re.MULTILINE)
_FILE_NAME = re.compile(r"# (\w+\.py)\n")


@dataclass
class Block:
    page: str
    line: int
    section: str
    language: str
    code: str

    @property
    def file_name(self) -> str | None:
        found = _FILE_NAME.match(self.code)
        return found.group(1) if found else None

    def commands(self) -> list[list[str]]:
        """The ``$`` commands of a console block, comments removed and continued lines joined."""
        joined = self.code.replace("\\\n", " ")
        return [shlex.split(line[2:], comments=True) for line in joined.splitlines() if line.startswith("$ ")]


def blocks(page: str, language: str | None = None, section: str | None = None) -> list[Block]:
    text = (DOCS / page).read_text()
    headings = [(found.start(), found.group(1)) for found in _HEADING.finditer(text)]
    found_blocks = []
    for found in _BLOCK.finditer(text):
        titles = [title for start, title in headings if start < found.start()]
        code = textwrap.dedent(found.group("body")).strip("\n") + "\n"
        block = Block(page, text.count("\n", 0, found.start()) + 1, titles[-1], found.group("language"), code)
        if (language is None or block.language == language) and (section is None or block.section == section):
            found_blocks.append(block)
    return found_blocks


def program(page: str, name: str) -> str:
    """The last block of *page* that is the file *name* (an earlier one shows only its beginning)."""
    (*earlier, code) = [block.code for block in blocks(page, "python") if block.file_name == name]
    for part in earlier:
        missing = [line for line in part.splitlines() if line.strip() and line not in code.splitlines()]
        assert not missing, f"{page}: the short {name} is not part of the full one: {missing}"
    return code


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the shell's Flask and Stripe settings, plus *extra*."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("FLASK_", "STRIPE_"))}
    return {**env, **extra}


#: The offline Stripe's values for the quickstart's placeholders.
FILLED = {
    "FLASK_STRIPE_API_KEY": OFFLINE_API_KEY,
    "FLASK_STRIPE_PUBLISHABLE_KEY": OFFLINE_PUBLISHABLE_KEY,
    "FLASK_STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_quickstart",
}


def quickstart_exports(*, filled: bool = False) -> dict[str, str]:
    """The quickstart's ``export NAME=VALUE`` lines, as written (``...`` marks a value to fill in), or with
    the placeholders *filled* with the offline Stripe's values."""
    (console,) = blocks("quickstart.rst", "console", "Configure it")
    exports = dict(command[1].split("=", 1) for command in console.commands() if command[0] == "export")
    return {name: FILLED[name] if filled and "..." in value else value for name, value in exports.items()}


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    executable = {"flask": [sys.executable, "-m", "flask"], "python": [sys.executable]}[command[0]]
    result = subprocess.run(
        executable + command[1:], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def wait_for(condition: Callable[[], T], what: str, timeout: float = 30) -> T:
    """*condition*'s first true value, tried every 0.2 s for *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def port_is_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="module")
def own_offline_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStripe]:
    """An offline Stripe for this module only: the webhook endpoints registered here never reach other tests."""
    log_path = tmp_path_factory.mktemp("docs-offline") / "localstripe.log"
    with OfflineStripe(log_path=str(log_path)) as server:
        yield server


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_compiles(page: str) -> None:
    for block in blocks(page, "python"):
        code = block.code
        if any(page == fragment_page and line in code for fragment_page, line in FUNCTION_BODIES):
            with pytest.raises(SyntaxError):  # still a fragment: else drop it from FUNCTION_BODIES
                compile(code, f"{page}:{block.line}", "exec")
            code = "def view():\n" + textwrap.indent(code, "    ")
        compile(code, f"{page}:{block.line}", "exec")


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_gives_is_run_by_a_test(page: str) -> None:
    names = {block.file_name for block in blocks(page, "python")} - {None}
    assert names == PROGRAMS.get(page, set()), f"{page} gives {names}: run them in this module"


def test_every_page_installs_the_extension_the_same_way() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    installs = [
        command
        for page in ("quickstart.rst", "testing.rst", "migrations.rst", "offline.rst")
        for block in blocks(page, "console")
        for command in block.commands()
        if command[:2] == ["pip", "install"]
    ]
    assert len(installs) >= 4
    for command in installs:
        assert command[2] == "-e", command
        assert len(command) == 4, command
        found = re.fullmatch(r"path/to/flask-stripe-billing(?:\[([a-z,]+)\])?", command[3])
        assert found, command
        assert set((found.group(1) or "").split(",")) - {""} <= extras, command


def test_the_gate_messages_are_quoted_exactly() -> None:
    text = (DOCS / "pages.rst").read_text()
    assert gate.NO_PLAN_MESSAGE in text
    assert gate.PAUSED_MESSAGE in text


def check_flask_run(cwd: Path, env: dict[str, str]) -> None:
    """``flask run`` serves the application (on a free port: ``FLASK_RUN_PORT``)."""
    url = f"http://127.0.0.1:{free_port()}"
    run_env = {**env, "FLASK_RUN_PORT": url.rsplit(":", 1)[1]}
    with subprocess.Popen(
        [sys.executable, "-m", "flask", "run"],
        cwd=cwd,
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            # The quickstart has no login view: an anonymous visitor is refused with 401.
            assert wait_for(lambda: http_status(f"{url}/billing/plans"), "flask run") == 401
        finally:
            server.terminate()


def test_the_quickstart_runs_as_written(tmp_path: Path, own_offline_stripe: OfflineStripe) -> None:
    page = "quickstart.rst"
    for name in PROGRAMS[page]:
        (tmp_path / name).write_text(program(page, name))
    exports = quickstart_exports(filled=True)
    assert "FLASK_SECRET_KEY" in exports
    env = clean_env(
        **exports, FLASK_STRIPE_API_BASE=own_offline_stripe.url, FLASK_STRIPE_JS_URL=own_offline_stripe.js_url
    )
    commands = [
        command
        for section in ("Create the tables", "Run it", "Create a plan")
        for block in blocks(page, "console", section)
        for command in block.commands()
    ]
    assert [command[:3] for command in commands[:3]] == [
        ["flask", "db", name] for name in ("init", "migrate", "upgrade")
    ]
    for command in commands:
        if command == ["flask", "run"]:
            check_flask_run(tmp_path, env)
            continue
        output = run(command, tmp_path, env)
        if command == ["flask", "stripe", "status"]:
            assert f"offline Stripe at {own_offline_stripe.url}" in output
    check = textwrap.dedent(
        """
        from flask_login import FlaskLoginClient
        from myapp import User, create_app, db

        app = create_app()
        app.test_client_class = FlaskLoginClient
        with app.app_context():
            user = User(email="reader@example.com")
            db.session.add(user)
            db.session.commit()
            print(app.test_client(user=user).get("/billing/plans").text)
        """
    )
    (tmp_path / "check.py").write_text(check)
    plans_page = run(["python", "check.py"], tmp_path, env)
    assert "Subscribe to Pro" in plans_page
    assert "No plans are on offer" not in plans_page


@pytest.mark.slow
@pytest.mark.parametrize("options", [[], ["-p", "no:flask"]], ids=["with-pytest-flask", "without-pytest-flask"])
def test_the_testing_example_runs_as_written(tmp_path: Path, options: list[str]) -> None:
    (tmp_path / "myapp.py").write_text(program("quickstart.rst", "myapp.py"))
    for name in PROGRAMS["testing.rst"]:
        (tmp_path / name).write_text(program("testing.rst", name))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", *options],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = len(re.findall(r"^def test_", program("testing.rst", "test_billing.py"), re.MULTILINE))
    assert f"{tests} passed" in result.stdout, result.stdout


def script_started(script: subprocess.Popen[bytes], output: Path) -> re.Match[str] | None:
    """The line ``offline_dev.py`` prints once it serves; a failure if it stopped instead."""
    started = re.search(r"Offline Stripe at (\S+), the application at (\S+)/", output.read_text())
    assert started or script.poll() is None, f"offline_dev.py stopped:\n{output.read_text()}"
    return started


@contextlib.contextmanager
def offline_dev(cwd: Path, env: dict[str, str], output: Path) -> Iterator[tuple[str, str, stripe.StripeClient]]:
    """Run ``offline_dev.py`` until the block ends, then stop it with Ctrl-C (SIGINT); yield the offline
    Stripe's URL, the application's, and a Stripe client of the offline Stripe."""
    with (
        output.open("w") as out,
        subprocess.Popen([sys.executable, "offline_dev.py"], cwd=cwd, env=env, stdout=out, stderr=out) as script,
    ):
        try:
            started = wait_for(lambda: script_started(script, output), "the script")
            offline_url, app_url = started.groups()
            yield (
                offline_url,
                app_url,
                stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": offline_url}, max_network_retries=0),
            )
        finally:
            script.send_signal(signal.SIGINT)
            script.wait(timeout=30)
    assert not port_is_open(offline_url), "the offline Stripe outlived the script"


def webhooks_of(database: Path, customer_id: str) -> list[tuple[str, str]]:
    """The type and status of the stored events about *customer_id*."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT type, status, raw_data FROM stripe_billing_webhooks").fetchall()
    return [(kind, status) for kind, status, raw in rows if customer_id in raw]


@pytest.mark.slow
def test_the_offline_script_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(program("quickstart.rst", "myapp.py"))
    (tmp_path / "offline_dev.py").write_text(program("offline.rst", "offline_dev.py"))
    # The quickstart's environment as written: the script's settings override its placeholder keys.
    env = clean_env(**quickstart_exports(), PORT=str(free_port()))
    (tmp_path / "create_tables.py").write_text(
        "import myapp\nwith myapp.create_app().app_context():\n    myapp.db.create_all()\n"
    )
    run(["python", "create_tables.py"], tmp_path, {**env, **quickstart_exports(filled=True)})
    (database,) = (tmp_path / "instance").glob("*.db")

    with offline_dev(tmp_path, env, tmp_path / "first.log") as (_, app_url, client):
        assert http_status(f"{app_url}/billing/plans") == 401  # served (the quickstart has no login view)
        customer_id = client.v1.customers.create(params={"email": "kept@example.com"}).id
        # The offline Stripe sends customer.created to the endpoint the script registered; the app processes it.
        wait_for(lambda: ("customer.created", "processed") in webhooks_of(database, customer_id), "the webhook")
    assert (tmp_path / "offline-stripe.pickle").stat().st_size > 0

    with offline_dev(tmp_path, env, tmp_path / "second.log") as (_, _, client):
        assert client.v1.customers.retrieve(customer_id).email == "kept@example.com"  # kept in the store file


def test_the_offline_module_command_runs_as_documented(tmp_path: Path) -> None:
    text = (DOCS / "offline.rst").read_text()
    synopsis = re.search(r"``python -m flask_stripe_billing\.offline PORT ([^`]*)``", text)
    assert synopsis
    usage = subprocess.run(
        [sys.executable, "-m", "flask_stripe_billing.offline", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in re.findall(r"\[(--[a-z-]+ [A-Z]+)\]", synopsis.group(1)):
        assert option in usage, option
    (console, *_) = blocks("offline.rst", "console", "From a shell")
    (command,) = console.commands()
    assert command[:4] == ["python", "-m", "flask_stripe_billing.offline", "12111"]
    port = free_port()
    command[3] = str(port)
    with subprocess.Popen(
        [sys.executable, *command[1:]], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            client = stripe.StripeClient(OFFLINE_API_KEY, base_addresses={"api": url}, max_network_retries=0)
            wait_for(lambda: port_is_open(url), what="the offline Stripe")
            client.v1.customers.create(params={"email": "shell@example.com"})
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
    assert (tmp_path / command[command.index("--store") + 1]).stat().st_size > 0
