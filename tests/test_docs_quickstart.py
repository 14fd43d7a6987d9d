"""The quickstart's application, taken from docs/quickstart.rst and run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"

CHECK = """
import quickstart_app
app = quickstart_app.create_app()
with app.app_context():
    quickstart_app.db.create_all()
    print(sorted(rule.rule for rule in app.url_map.iter_rules()))
"""


def quickstart_code() -> str:
    text = (DOCS / "quickstart.rst").read_text()
    section = text[text.index("Add it to your application") :]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section)
    assert block, "the quickstart lost its application"
    return "\n".join(line[3:] for line in block.group(1).splitlines()) + "\n"


def test_the_quickstart_is_under_20_lines() -> None:
    lines = [line for line in quickstart_code().splitlines() if line.strip()]
    assert len(lines) < 20, lines


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
