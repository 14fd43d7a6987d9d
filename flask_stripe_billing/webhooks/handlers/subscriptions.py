"""Built-in handlers for subscriptions events (see the package docstring)."""

from __future__ import annotations
