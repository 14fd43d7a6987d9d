"""Sphinx configuration for the flask-stripe-billing documentation."""

from __future__ import annotations

import sys
from pathlib import Path

# Import the package from the repository root, not from an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_stripe_billing

project = "flask-stripe-billing"
author = "flask-stripe-billing contributors"
copyright = "flask-stripe-billing contributors"
release = flask_stripe_billing.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

# The build must work offline: no intersphinx, no remote images.
nitpicky = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"flask-stripe-billing {release}"
html_static_path: list[str] = []
