"""The billing pages of the ``stripe_billing`` blueprint.

=======================================  ==========================================  =========================
endpoint                                 URL (under ``STRIPE_URL_PREFIX``)            methods
=======================================  ==========================================  =========================
``stripe_billing.account``               ``/`` and ``/account``                      GET
``stripe_billing.card``                  ``/card``                                   GET, POST
``stripe_billing.plans``                 ``/plans``                                  GET
``stripe_billing.subscribe``             ``/subscribe``                              POST
``stripe_billing.cancel_subscription``   ``/subscriptions/<id>/cancel``              GET (confirm), POST
``stripe_billing.confirm_subscription``  ``/subscriptions/<id>/confirm``             GET, POST
``stripe_billing.pay_charge``            ``/charges/<id>/pay``                       GET, POST
``stripe_billing.confirm_payment``       ``/charges/<id>/confirm``                   GET, POST
``stripe_billing.checkout_return``       ``/checkout/return?session_id=cs_...``      GET
``stripe_billing.portal``                ``/portal``                                 POST
=======================================  ==========================================  =========================

Every page needs a logged-in subscriber, shows only the subscriber's own rows (another subscriber's id is a
404), checks the CSRF token of every POST (:mod:`flask_stripe_billing.web.csrf`) and renders a template under
``templates/stripe_billing/`` that extends ``stripe_billing/base.html``.  Only the publishable key reaches
a page; the script is a static file (no inline script), configured through ``data-`` attributes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ...core.state import get_state
from .. import csrf
from . import formatting
from .account import account
from .cards import card
from .charges import confirm_payment, pay_charge
from .checkout import checkout_return, portal
from .subscriptions import cancel_subscription, confirm_subscription, plans, subscribe


def register_pages(blueprint: Blueprint) -> None:
    """Add the pages, their template helpers and filters to *blueprint*."""
    rules: list[tuple[str, str, Any, list[str]]] = [
        ("/", "index", account, ["GET"]),
        ("/account", "account", account, ["GET"]),
        ("/card", "card", card, ["GET", "POST"]),
        ("/plans", "plans", plans, ["GET"]),
        ("/subscribe", "subscribe", subscribe, ["POST"]),
        ("/subscriptions/<int:subscription_id>/cancel", "cancel_subscription", cancel_subscription, ["GET", "POST"]),
        ("/subscriptions/<int:subscription_id>/confirm", "confirm_subscription", confirm_subscription, ["GET", "POST"]),
        ("/charges/<int:charge_id>/pay", "pay_charge", pay_charge, ["GET", "POST"]),
        ("/charges/<int:charge_id>/confirm", "confirm_payment", confirm_payment, ["GET", "POST"]),
        ("/checkout/return", "checkout_return", checkout_return, ["GET"]),
        ("/portal", "portal", portal, ["POST"]),
    ]
    for rule, endpoint, view, methods in rules:
        blueprint.add_url_rule(rule, endpoint, view, methods=methods)
    blueprint.context_processor(template_context)
    blueprint.add_app_template_filter(formatting.money, "billing_money")
    blueprint.add_app_template_filter(formatting.date, "billing_date")
    blueprint.add_app_template_filter(formatting.interval, "billing_interval")


def template_context() -> dict[str, Any]:
    """What every billing template may use: the CSRF helpers, Stripe.js and the publishable key (never the
    secret key), and whether Checkout (``STRIPE_CHECKOUT``) and the Customer Portal (``STRIPE_PORTAL``) are on."""
    config = get_state().config
    return {
        "billing_csrf_token": csrf.generate_token,
        "billing_csrf_field_name": csrf.field_name,
        "stripe_publishable_key": config.publishable_key,
        "stripe_js_url": config.js_url,
        "billing_checkout_enabled": config.checkout,
        "billing_portal_enabled": config.portal,
    }
