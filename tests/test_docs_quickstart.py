"""The quickstart's application, taken from docs/quickstart.rst and run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
QUICKSTART = (DOCS / "quickstart.rst").read_text()

CHECK = """
import quickstart_app
app = quickstart_app.create_app()
with app.app_context():
    quickstart_app.db.create_all()
    print(sorted(rule.rule for rule in app.url_map.iter_rules()))
"""


def quickstart_code() -> str:
    application = QUICKSTART[QUICKSTART.index("Add it to your application") :]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", application)
    assert block, "the quickstart lost its application"
    return "\n".join(line[3:] for line in block.group(1).splitlines()) + "\n"


def test_the_quickstart_is_under_20_lines() -> None:
    lines = [line for line in quickstart_code().splitlines() if line.strip()]
    assert len(lines) < 20, lines
    claimed = re.search(r"A whole\s+application that takes cards and sells plans, in (\d+) lines:", QUICKSTART)
    assert claimed, "the quickstart no longer says how long its application is"
    assert int(claimed.group(1)) == len(lines)


def test_the_factory_takes_an_optional_config_mapping() -> None:
    assert "def create_app(config: dict | None = None):" in quickstart_code()


def section(title: str) -> str:
    """The text of the quickstart's section *title*, up to the next section."""
    start = QUICKSTART.index(f"\n{title}\n{'-' * len(title)}\n")
    following = re.search(r"\n[^\n]+\n-+\n", QUICKSTART[start + len(title) + 2 :])
    return QUICKSTART[start : start + len(title) + 2 + following.start()] if following else QUICKSTART[start:]


def test_configuration_comes_before_the_database_commands() -> None:
    order = [
        QUICKSTART.index(f"\n{title}\n") for title in ("Configure it", "Create the tables", "Run it", "Create a plan")
    ]
    assert order == sorted(order)
    assert "export FLASK_SECRET_KEY=" in section("Configure it")
    assert "flask db" not in QUICKSTART[: order[1]]
    commands = re.findall(r"\$ (flask db \w+)", section("Create the tables"))
    assert commands == ["flask db init", "flask db migrate", "flask db upgrade"]


def test_the_quickstart_app_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "quickstart_app.py").write_text(quickstart_code())
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "FLASK_SECRET_KEY": "quickstart",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite'}",
        "FLASK_STRIPE_API_KEY": "sk_test_quickstart",
        "FLASK_STRIPE_PUBLISHABLE_KEY": "pk_test_quickstart",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for path in ("/billing/plans", "/billing/card", "/billing/account", "/billing/webhooks"):
        assert path in result.stdout, path
