"""Builders the tests share; fixtures are in ``tests/conftest.py``.  Test modules import from these modules
(never from one another):

* :mod:`~tests.factories.apps` — host apps built by a test, databases, users, logging in, ``dev.py``;
* :mod:`~tests.factories.cards` — Stripe's test cards, payment methods;
* :mod:`~tests.factories.charges` — customers with a card, charge rows, PaymentIntents, 3-D Secure;
* :mod:`~tests.factories.subscriptions` — plans, the spec stub's answers about subscriptions;
* :mod:`~tests.factories.gate` — subscription rows as webhooks leave them, plain views;
* :mod:`~tests.factories.pages` — CSRF tokens, form posts, flashed messages;
* :mod:`~tests.factories.webhooks` — signed events made by hand;
* :mod:`~tests.factories.signals` — signals recorded with the committed state.

Nothing here is imported by this package module itself: ``tests/conftest.py`` imports some of these modules
before pytest loads :mod:`flask_stripe_billing.testing` as a plugin, and must not import that one first.
"""
