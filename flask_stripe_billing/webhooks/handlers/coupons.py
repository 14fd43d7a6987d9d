"""Built-in handlers for coupons events (see the package docstring)."""

from __future__ import annotations
