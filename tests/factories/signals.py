"""Signals recorded with what was committed when each was sent.

:class:`flask_stripe_billing.testing.SignalRecorder` records what a signal was sent with; these tests also need
what another connection saw at that moment, which only a receiver running then can read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from flask_stripe_billing.core.state import get_state


@contextlib.contextmanager
def signals_with_committed_state(
    names: dict[Any, str], committed: Callable[[sa.Connection, Any], Any]
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record each of the signals in *names* as ``(name, kwargs)``, with ``kwargs["committed"]`` set to what
    *committed* reads about the signal's ``instance`` on a connection of its own: the committed state, which a
    signal sent before its commit would not see."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def receiver(name: str) -> Callable[..., None]:
        def receive(sender: Any, **kwargs: Any) -> None:
            with get_state().db.engine.connect() as connection:
                seen.append((name, {**kwargs, "committed": committed(connection, kwargs["instance"])}))

        return receive

    receivers = {signal: receiver(name) for signal, name in names.items()}
    for signal, function in receivers.items():
        signal.connect(function)
    try:
        yield seen
    finally:
        for signal, function in receivers.items():
            signal.disconnect(function)
