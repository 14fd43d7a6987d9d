"""``StripeCharge`` and ``StripeRefund``: one-off payments and the refunds made against them."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TABLE_PREFIX, Base, StripeObjectMixin, SubscriberMixin
from .customer import StripeCustomer
from .ports import VerbsPort


class ChargeStatus(enum.StrEnum):
    """Where a charge stands.  Only ``PENDING`` and ``UNKNOWN`` charges are taken by ``flask stripe charge``."""

    #: Not sent to Stripe yet.
    PENDING = "pending"
    #: Claimed by a runner (the request is being sent), or by Checkout (the customer is on its page).
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    #: Declined or rejected; never retried automatically.
    FAILED = "failed"
    #: The card needs the customer to authenticate (3-D Secure).
    REQUIRES_ACTION = "requires_action"
    #: Stripe's answer was lost (5xx, timeout, connection lost); resolved by replaying the same idempotency key.
    UNKNOWN = "unknown"


class RefundStatus(enum.StrEnum):
    """Where a refund stands (Stripe's refund statuses, plus ``unknown`` for a lost answer).

    A ``pending`` row without a ``stripe_refund_id`` is one being sent (or whose sender died): like an
    ``unknown`` one, it is settled by asking Stripe before any other refund of its charge is made.
    """

    #: Being sent (no ``stripe_refund_id`` yet), or pending at Stripe.
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"


class StripeCharge(SubscriberMixin, StripeObjectMixin, Base):
    """A one-off payment of ``amount`` (minor units) in ``currency`` from a subscriber's customer.

    ``description`` is sent to Stripe; ``comment`` stays internal.  ``source_type``/``source_id`` optionally
    name what is being paid for (an order, an invoice of the host's).
    """

    __tablename__ = f"{TABLE_PREFIX}charges"
    __table_args__ = (
        sa.Index(f"ix_{TABLE_PREFIX}charges_source", "source_type", "source_id"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount", name="refund_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey(StripeCustomer.id), index=True, default=None)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    comment: Mapped[str | None] = mapped_column(sa.Text, default=None)
    statement_descriptor: Mapped[str | None] = mapped_column(sa.String(22), default=None)
    source_type: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    source_id: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    status: Mapped[str] = mapped_column(sa.String(20), default=ChargeStatus.PENDING, index=True)
    is_charged: Mapped[bool] = mapped_column(default=False)
    charge_attempt_failed: Mapped[bool] = mapped_column(default=False)
    is_manual_charge: Mapped[bool] = mapped_column(default=False)
    stripe_charge_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    #: The Checkout Session opened to pay this charge (the pay page with ``STRIPE_CHECKOUT``).  While the charge
    #: is ``in_flight`` and has no PaymentIntent, the session is open or its outcome not yet read: the charge is
    #: then never charged off-session before the session is read (see
    #: :mod:`flask_stripe_billing.charges.checkout_claims`).
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    #: Kept for the page where the customer confirms a payment that needs authentication.
    payment_intent_client_secret: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    amount_refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    is_refunded: Mapped[bool] = mapped_column(default=False)
    failure_code: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    decline_code: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    #: A message safe to show the customer.
    failure_message: Mapped[str | None] = mapped_column(sa.Text, default=None)
    #: Derived from this row and stored before the request is sent, so a retry replays the same request.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    #: When the key was stored: Stripe remembers a key for 24 hours, so an older one cannot simply be replayed.
    idempotency_key_created_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    charged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Set while a runner holds the charge (see ``flask stripe charge``).
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Set while a process makes (or settles) a refund of this charge: refunds of one charge are made one at a
    #: time (see :func:`flask_stripe_billing.charges.refunds.refund`).
    refund_claimed_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Set by the ``charge.dispute.created`` webhook.
    is_disputed: Mapped[bool] = mapped_column(default=False)
    dispute_reason: Mapped[str | None] = mapped_column(sa.String(100), default=None)

    customer: Mapped[StripeCustomer | None] = relationship(lazy="joined")
    refunds: Mapped[list[StripeRefund]] = relationship(back_populates="charge", order_by="StripeRefund.id")

    @property
    def amount_refundable(self) -> int:
        """What can still be refunded, by the local figures."""
        return self.amount - self.amount_refunded if self.is_charged else 0

    def charge(self, idempotency_key: str | None = None) -> StripeCharge:
        """Charge the subscriber's default card off-session (see :func:`flask_stripe_billing.charges.send.charge`)."""
        return CHARGE_VERBS().charge(self, idempotency_key)

    def refresh_from_stripe(self) -> StripeCharge:
        """Re-read the charge's PaymentIntent from Stripe and store it (see
        :func:`flask_stripe_billing.charges.send.refresh_charge`).  Calls Stripe."""
        return CHARGE_VERBS().refresh(self)

    def refund(
        self, amount_to_refund: int | None = None, *, reason: str | None = None, wait: float | None = None
    ) -> StripeRefund:
        """Refund part or all of what remains (see :func:`flask_stripe_billing.charges.refunds.refund`).

        :param wait: seconds to wait for another refund of this charge (default
            :data:`~flask_stripe_billing.charges.refunds.REFUND_WAIT`).
        """
        waiting = {} if wait is None else {"wait": wait}
        return CHARGE_VERBS().refund(self, amount_to_refund, reason=reason, **waiting)


class StripeRefund(StripeObjectMixin, Base):
    """One refund of (part of) a charge, with its own idempotency key."""

    __tablename__ = f"{TABLE_PREFIX}refunds"
    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_id: Mapped[int] = mapped_column(sa.ForeignKey(StripeCharge.id), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    status: Mapped[str] = mapped_column(sa.String(20), default=RefundStatus.PENDING)
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(100), default=None)

    charge: Mapped[StripeCharge] = relationship(back_populates="refunds")


@dataclass(frozen=True)
class ChargeVerbs:
    """The charges domain's functions behind :class:`StripeCharge`'s verbs."""

    charge: Callable[[StripeCharge, str | None], StripeCharge]
    refund: Callable[..., StripeRefund]
    refresh: Callable[[StripeCharge], StripeCharge]


#: Plugged by the extension at ``init_app`` (see :mod:`flask_stripe_billing.models.ports`).
CHARGE_VERBS: VerbsPort[ChargeVerbs] = VerbsPort("StripeCharge")
