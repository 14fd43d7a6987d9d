"""The documented Flask-Migrate workflow creates every table and index in a scratch host application."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

from flask_stripe_billing.models import Base

HOST_APP = textwrap.dedent(
    """
    import os
    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy
    from flask_stripe_billing import StripeBilling

    db = SQLAlchemy()
    billing = StripeBilling()

    class User(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(255))

    def create_app():
        app = Flask(__name__)
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        app.config["STRIPE_API_KEY"] = "sk_test_migrations"
        db.init_app(app)
        Migrate(app, db)
        billing.init_app(app, db=db, subscriber_model=User)
        return app
    """
)


def flask_db(tmp_path: Path, database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "host:create_app", "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_documented_migration_commands_create_every_table_and_index(tmp_path: Path, scratch_database: str) -> None:
    (tmp_path / "host.py").write_text(HOST_APP)
    flask_db(tmp_path, scratch_database, "init")
    flask_db(tmp_path, scratch_database, "migrate", "-m", "add stripe billing")
    (script,) = (tmp_path / "migrations" / "versions").glob("*.py")
    assert "flask_stripe_billing" not in script.read_text(), "migrations must not import the extension"
    flask_db(tmp_path, scratch_database, "upgrade")

    engine = sa.create_engine(scratch_database)
    try:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        for table in Base.metadata.sorted_tables:
            assert table.name in tables
            present = {index["name"] for index in inspector.get_indexes(table.name)}
            present |= {uc["name"] for uc in inspector.get_unique_constraints(table.name)}
            for index in table.indexes:
                assert index.name in present, (table.name, index.name)
        foreign_keys = inspector.get_foreign_keys("stripe_billing_charges")
        assert any(
            fk["referred_table"] == "user" and fk["options"].get("ondelete") == "SET NULL" for fk in foreign_keys
        )
    finally:
        engine.dispose()

    # A second autogenerate finds nothing to change: the models and the migrated schema agree.
    output = flask_db(tmp_path, scratch_database, "migrate", "-m", "no changes")
    assert "No changes in schema detected" in output or _empty_upgrade(tmp_path)


def _empty_upgrade(tmp_path: Path) -> bool:
    scripts = sorted((tmp_path / "migrations" / "versions").glob("*no_changes*.py"))
    return bool(scripts) and "op." not in scripts[-1].read_text().split("def upgrade")[1].split("def downgrade")[0]
