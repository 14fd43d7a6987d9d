"""How a model's verbs reach the domain that does them, without the model importing anything above it.

A row such as ``charge`` offers ``charge.charge()`` and ``charge.refund()``, but the work is done by
the charges domain, which sits above the models and imports them.  Each model module declares what its verbs
need as a small dataclass of functions and a :class:`VerbsPort` for it; :class:`~flask_stripe_billing.StripeBilling`
plugs the domain's functions into every port at ``init_app`` (see ``extension.py``, ``plug_model_verbs``), the
way Flask-SQLAlchemy hands its models their ``__fsa__``.  A verb called before any ``init_app`` says so.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ..errors import VerbsNotPluggedError

V = TypeVar("V")


class VerbsPort(Generic[V]):
    """The domain functions behind one model's verbs, plugged in by the extension."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._verbs: V | None = None

    def plug(self, verbs: V) -> None:
        """Hand the model its verbs (the same functions for every application in the process)."""
        self._verbs = verbs

    def __call__(self) -> V:
        if self._verbs is None:
            raise VerbsNotPluggedError(
                f"{self.model}'s verbs call Stripe through flask-stripe-billing: call billing.init_app(app, db=db) "
                "before using them."
            )
        return self._verbs
