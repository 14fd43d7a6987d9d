"""Built-in handlers for charges events (see the package docstring)."""

from __future__ import annotations
