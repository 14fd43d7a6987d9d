"""Sending a signal about a change already committed: a receiver's error is logged and reported, never raised.

The signals themselves are declared in :mod:`flask_stripe_billing.signals`; every verb and handler sends them
through :func:`send_committed` once its transaction has committed.
"""

from __future__ import annotations

import logging
from inspect import iscoroutinefunction
from typing import Any

from blinker import Signal

from .state import get_state

logger = logging.getLogger("flask_stripe_billing.signals")


def send_committed(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send *signal* about a change that is already committed, calling each receiver in turn.

    A receiver that raises does not reach the caller and does not stop the other receivers: its error is logged
    (``logger.exception`` on ``flask_stripe_billing.signals``, naming the signal and the receiver, not the
    arguments), reported with ``sentry_sdk.capture_exception`` when Sentry is installed and initialised, and
    whatever the receiver left uncommitted in the database session is rolled back, so that a later commit does
    not save half of its work.
    """
    if signal.is_muted:
        return
    for receiver in list(signal.receivers_for(sender)):
        try:
            if iscoroutinefunction(receiver):
                raise TypeError("a coroutine function cannot receive a flask-stripe-billing signal")
            receiver(sender, **kwargs)
        except Exception as exc:
            logger.exception(
                "A receiver of the %r signal failed; the change it reports stays committed: %s",
                getattr(signal, "name", signal),
                getattr(receiver, "__qualname__", type(receiver).__qualname__),
            )
            _report_to_sentry(exc)
            _discard_uncommitted()


def _report_to_sentry(exc: BaseException) -> None:
    """``sentry_sdk.capture_exception(exc)`` when Sentry is installed and initialised; never raises."""
    try:
        import sentry_sdk
    except ImportError:
        return
    try:
        if sentry_sdk.is_initialized():
            sentry_sdk.capture_exception(exc)
    except Exception:
        logger.warning("Could not report a signal receiver's error to Sentry", exc_info=True)


def _discard_uncommitted() -> None:
    """Roll back what a failed receiver left in the session (the change the signal reports was committed)."""
    try:
        get_state().db.session.rollback()
    except Exception:
        logger.warning("Could not roll back after a signal receiver failed", exc_info=True)
