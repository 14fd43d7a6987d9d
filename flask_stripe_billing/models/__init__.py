"""The extension's models.  They live in the host's database, in tables named ``stripe_billing_*``.

Money is always an integer amount in the currency's minor unit (cents; yen for JPY) plus a currency code.
"""

from .base import Base, from_timestamp, utcnow
from .charge import ChargeStatus, RefundStatus, StripeCharge, StripeRefund
from .coupon import CouponDuration, StripeCoupon
from .customer import StripeCustomer
from .idempotency import StripeIdempotencyKey
from .plan import PlanInterval, StripeSubscriptionPlan
from .subscription import LIVE_STATUSES, StripeSubscription, SubscriptionStatus
from .webhook import StripeWebhook, WebhookStatus

__all__ = [
    "LIVE_STATUSES",
    "Base",
    "ChargeStatus",
    "CouponDuration",
    "PlanInterval",
    "RefundStatus",
    "StripeCharge",
    "StripeCoupon",
    "StripeCustomer",
    "StripeIdempotencyKey",
    "StripeRefund",
    "StripeSubscription",
    "StripeSubscriptionPlan",
    "StripeWebhook",
    "SubscriptionStatus",
    "WebhookStatus",
    "from_timestamp",
    "utcnow",
]


# Stripe's ids are case-sensitive: on MariaDB and MySQL every table compares text byte for byte, not with the
# server's case-insensitive default collation (which would take "evt_Ab" and "evt_aB" for one event).
for _table in Base.metadata.tables.values():
    _table.dialect_options["mysql"]["collate"] = "utf8mb4_bin"
    _table.dialect_options["mysql"]["charset"] = "utf8mb4"
