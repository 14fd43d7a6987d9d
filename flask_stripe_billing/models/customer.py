"""``StripeCustomer``: a subscriber's customer at Stripe and the cards saved on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..core.state import get_state
from .base import TABLE_PREFIX, Base, JSONType, StripeObjectMixin, SubscriberMixin, subscriber_key
from .ports import VerbsPort


class StripeCustomer(SubscriberMixin, StripeObjectMixin, Base):
    """A customer at Stripe, owned by one subscriber.

    A subscriber may have several rows over time; the newest active one is the one in use (a new customer
    supersedes the older ones, which are kept with ``is_active=False``).  ``sources`` holds card summaries
    (``id``, ``brand``, ``last4``, ``exp_month``, ``exp_year``), never card numbers.
    """

    __tablename__ = f"{TABLE_PREFIX}customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    is_created_at_stripe: Mapped[bool] = mapped_column(default=False)
    #: Card and payment-method summaries, newest last.
    sources: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    #: Id of the default card or payment method (``card_...``, ``src_...`` or ``pm_...``).
    default_source: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    #: The idempotency key of the request that creates this customer at Stripe, stored before it is sent.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), default=None)

    @property
    def card_ids(self) -> set[str]:
        """The ids of the cards in :attr:`sources`."""
        return {source["id"] for source in self.sources or () if isinstance(source, dict) and source.get("id")}

    @property
    def default_source_data(self) -> dict[str, Any] | None:
        """The summary in :attr:`sources` of the default card, or ``None``."""
        for source in self.sources or ():
            if isinstance(source, dict) and source.get("id") == self.default_source:
                return source
        return None

    def create_at_stripe(self, token_or_payment_method: str) -> StripeCustomer:
        """Create a new customer for this row's subscriber at Stripe (see
        :func:`flask_stripe_billing.customers.verbs.create_customer`).

        Returns the new row; this one is superseded by it.
        """
        return CUSTOMER_VERBS().create(self.subscriber, token_or_payment_method)

    def refresh_from_stripe(self) -> StripeCustomer:
        """Update ``sources`` and ``default_source`` from Stripe (see
        :func:`flask_stripe_billing.customers.verbs.refresh_customer`)."""
        return CUSTOMER_VERBS().refresh(self)

    def add_new_source(self, token_or_payment_method: str) -> StripeCustomer:
        """Add a card and make it the default (see :func:`flask_stripe_billing.customers.verbs.add_new_source`)."""
        return CUSTOMER_VERBS().add_new_source(self, token_or_payment_method)

    @classmethod
    def get_latest_active_customer_for_user(cls, subscriber: Any) -> StripeCustomer | None:
        """The subscriber's newest active customer created at Stripe, or ``None``.  Reads only the database."""
        query = (
            sa.select(cls)
            .where(
                cls.subscriber_id == subscriber_key(subscriber),
                cls.is_active.is_(True),
                cls.is_created_at_stripe.is_(True),
            )
            .order_by(cls.created_at.desc(), cls.id.desc())
            .limit(1)
        )
        return get_state().db.session.scalars(query).first()


@dataclass(frozen=True)
class CustomerVerbs:
    """The customers domain's functions behind :class:`StripeCustomer`'s verbs."""

    create: Callable[[Any, str], StripeCustomer]
    refresh: Callable[[StripeCustomer], StripeCustomer]
    add_new_source: Callable[[StripeCustomer, str], StripeCustomer]


#: Plugged by the extension at ``init_app`` (see :mod:`flask_stripe_billing.models.ports`).
CUSTOMER_VERBS: VerbsPort[CustomerVerbs] = VerbsPort("StripeCustomer")
