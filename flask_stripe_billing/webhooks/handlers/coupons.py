"""Built-in handlers for coupon events: mirror coupons created, renamed or deleted in the Stripe Dashboard.

``coupon.created`` and ``coupon.updated`` apply the coupon to the live row with its id (creating the row if
there is none) unless the row holds newer data; ``coupon.deleted`` marks the live row ``is_deleted`` (a
deletion is final, so its age does not matter).  :data:`~flask_stripe_billing.signals.coupon_synced` is queued
with :func:`~flask_stripe_billing.webhooks.deferred.send_after_commit` and sent once the dispatcher has
committed.  A ``coupon.created`` for a coupon this application created itself finds its row and changes
nothing new.
"""

from __future__ import annotations

from ...core.shapes import expandable_id
from ...coupons.from_stripe import apply_stripe_coupon, new_coupon_from_stripe
from ...coupons.lookup import coupon_query
from ...models import StripeCoupon, StripeWebhook
from ...models.locks import find_locked
from ...signals import coupon_synced
from ..deferred import send_after_commit
from ..events import event_object, event_time


def coupon_changed(webhook: StripeWebhook) -> None:
    """Apply the coupon the event carries, or add it when it was made elsewhere."""
    data = event_object(webhook)
    coupon_id = expandable_id(data.get("id"))
    if not coupon_id:
        return
    coupon = _live(coupon_id)
    if coupon is None:
        coupon = new_coupon_from_stripe(data, event_time(webhook))
        send_after_commit(coupon_synced, StripeCoupon, instance=coupon, action="created")
    elif apply_stripe_coupon(coupon, data, event_time(webhook)):
        send_after_commit(coupon_synced, StripeCoupon, instance=coupon, action="updated")


def coupon_deleted(webhook: StripeWebhook) -> None:
    """Mark the live coupon with that id deleted."""
    coupon = _live(expandable_id(event_object(webhook).get("id")))
    if coupon is not None:
        coupon.is_deleted = True
        send_after_commit(coupon_synced, StripeCoupon, instance=coupon, action="deleted")


def _live(coupon_id: str | None) -> StripeCoupon | None:
    """The live row with *coupon_id*, locked until the dispatcher commits (PostgreSQL)."""
    return find_locked(StripeCoupon, among=coupon_query(), coupon_id=coupon_id)
