"""The ``stripe_billing`` blueprint: its templates, static files and routes."""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from . import csrf
from .api import register_api
from .pages import register_pages

#: The blueprint's name; endpoints are ``stripe_billing.<view>``.
BLUEPRINT_NAME = "stripe_billing"


def create_blueprint() -> Blueprint:
    """A new blueprint for one application (blueprints keep no per-application state of ours)."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, template_folder="templates", static_folder="static")
    register_api(blueprint)
    register_pages(blueprint)

    def on_register(state: BlueprintSetupState) -> None:
        csrf.install(state.app)

    blueprint.record_once(on_register)
    return blueprint
