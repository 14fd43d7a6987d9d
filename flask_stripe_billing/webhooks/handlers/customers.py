"""Built-in handlers for customers events (see the package docstring)."""

from __future__ import annotations
