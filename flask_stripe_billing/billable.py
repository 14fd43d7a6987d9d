"""``BillableMixin``: billing verbs and predicates on the subscriber model, in the manner of Laravel Cashier.

.. code-block:: python

    class User(BillableMixin, UserMixin, db.Model):
        ...

    if not user.subscribed():
        user.subscribe(pro_plan, coupon="WELCOME10")
    user.charge(1500, description="Extra seats")

The mixin adds no columns.  Predicates (``subscribed``, ``on_trial``, ``on_grace_period``, ``subscription``,
``stripe_customer``) read only the database, so they are safe in templates and the subscription gate; verbs
(``subscribe``, ``charge``) call Stripe.  Each delegates to the module that does the work
(:mod:`~flask_stripe_billing.subscriptions.verbs`, :mod:`~flask_stripe_billing.charges.send`), which is where to look
for the details and the errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from . import charges, checkout, plans, subscriptions
from .models import StripeCustomer

if TYPE_CHECKING:
    from .charges.send import ChargeOptions
    from .checkout import CheckoutSession
    from .checkout.sessions import PlanOrPrice
    from .models import StripeCharge, StripeCoupon, StripeCustomer, StripeSubscription, StripeSubscriptionPlan


class BillableMixin:
    """Mix into the subscriber model (a user, an organization) given to ``StripeBilling.init_app``."""

    def subscribed(self, plan: StripeSubscriptionPlan | str | None = None) -> bool:
        """Whether a subscription (to *plan*, if given: a row, a Price id or a lookup key) gives access now:
        active, past due, on trial, or canceled but within the period paid for.  Reads only the database."""
        if plan is None:
            return subscriptions.is_subscribed(self)
        row = plans.find_plan(plan)
        return row is not None and subscriptions.is_subscribed(self, row)

    def subscription(self) -> StripeSubscription | None:
        """The newest subscription still running at Stripe, or ``None``.  Reads only the database."""
        return subscriptions.active_subscription(self)

    def on_trial(self) -> bool:
        """Whether the current subscription is in its trial.  Reads only the database."""
        current = self.subscription()
        return current is not None and current.on_trial()

    def on_grace_period(self) -> bool:
        """Whether the current subscription was canceled at period end and that end has not come.  Reads only
        the database."""
        current = self.subscription()
        return current is not None and current.on_grace_period()

    @property
    def stripe_customer(self) -> StripeCustomer | None:
        """The newest active Stripe customer (with the cards).  Reads only the database."""
        return StripeCustomer.get_latest_active_customer_for_user(self)

    def subscribe(
        self, plan: StripeSubscriptionPlan | str, coupon: StripeCoupon | str | None = None, **options: Any
    ) -> StripeSubscription:
        """Subscribe to *plan* (a row, a Price id or a lookup key), optionally with a coupon (a row or its id).
        **Calls Stripe.**

        ``options`` go to Stripe's ``POST /v1/subscriptions`` as they are.  See
        :func:`flask_stripe_billing.subscriptions.create.subscribe` for the errors.
        """
        return subscriptions.subscribe(self, plan, coupon, **options)

    def charge(self, amount: int, **options: Unpack[ChargeOptions]) -> StripeCharge:
        """Charge *amount* (minor units) to the default card now.  **Calls Stripe.**

        *options*: ``currency``, ``description``, ``comment``, ``statement_descriptor``, ``source_type``,
        ``source_id``, ``idempotency_key`` (:class:`~flask_stripe_billing.charges.send.ChargeOptions`).  See
        :func:`flask_stripe_billing.charges.send.charge_subscriber` for the outcomes and errors (a decline,
        authentication required, no customer...).
        """
        return charges.charge_subscriber(self, amount, **options)

    def checkout(self, *plans_or_prices: PlanOrPrice, **options: Any) -> CheckoutSession:
        """A Checkout Session for this subscriber (``mode``, ``quantity``, ``trial_days``, ``coupon``,
        ``allow_promotion_codes``, ``success_url``, ``cancel_url`` and Stripe's own parameters).  **Calls Stripe.**

        See :func:`flask_stripe_billing.checkout.sessions.create_checkout_session`.
        """
        return checkout.create_checkout_session(self, *plans_or_prices, **options)

    def billing_portal_url(self, return_url: str | None = None, **options: Any) -> str:
        """The URL of a new Customer Portal session for this subscriber.  **Calls Stripe.**

        See :func:`flask_stripe_billing.checkout.portal.billing_portal_url`.
        """
        return checkout.billing_portal_url(self, return_url, **options)
