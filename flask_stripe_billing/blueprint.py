"""The ``stripe_billing`` blueprint: its templates, static files and routes."""

from __future__ import annotations

from flask import Blueprint

#: The blueprint's name; endpoints are ``stripe_billing.<view>``.
BLUEPRINT_NAME = "stripe_billing"


def create_blueprint() -> Blueprint:
    """A new blueprint for one application (blueprints keep no per-application state of ours)."""
    from .api import register_api

    blueprint = Blueprint(BLUEPRINT_NAME, __name__, template_folder="templates", static_folder="static")
    register_api(blueprint)
    return blueprint
