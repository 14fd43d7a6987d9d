"""BillableMixin on a subscriber model: predicates from the database, verbs through Stripe (offline Stripe)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_stripe_billing import errors
from flask_stripe_billing.billable import BillableMixin
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeSubscription, SubscriptionStatus, utcnow
from flask_stripe_billing.testing import create_card_token
from tests import hostapp
from tests.factories.apps import reset_database
from tests.factories.subscriptions import created_plan
from tests.stripe_openapi.http_client import ValidatingHTTPClient


class Team(BillableMixin, hostapp.Organization):
    """An organization that bills like Cashier's ``Billable`` (the mixin adds no columns)."""


@pytest.fixture
def team_app(
    database_url: str, stripe_test_config: dict[str, Any], stripe_http: ValidatingHTTPClient
) -> Iterator[Flask]:
    app = hostapp.create_app(
        {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url},
        db=hostapp.org_db,
        subscriber_model=Team,
        http_client=stripe_http,
    )
    with app.app_context():
        reset_database(hostapp.org_db)
        yield app
        hostapp.org_db.session.remove()
        hostapp.org_db.drop_all()
        hostapp.org_db.engine.dispose()


@pytest.fixture
def team(team_app: Flask) -> Team:
    row = Team(name="Acme", billing_email="billing@acme.test")
    hostapp.org_db.session.add(row)
    hostapp.org_db.session.commit()
    return row


def test_a_subscriber_without_anything(team: Team, stripe_http: ValidatingHTTPClient) -> None:
    stripe_http.clear()
    assert not team.subscribed()
    assert not team.on_trial()
    assert not team.on_grace_period()
    assert team.subscription() is None
    assert team.stripe_customer is None
    assert not stripe_http.requests  # predicates never call Stripe
    with pytest.raises(errors.NoCustomerError):
        team.subscribe(created_plan(hostapp.org_db))
    for _ in range(2):  # a refused charge leaves no pending row for cron to charge once a card is saved
        with pytest.raises(errors.NoCustomerError):
            team.charge(1500)
    assert hostapp.org_db.session.scalar(sa.select(sa.func.count()).select_from(StripeCharge)) == 0


def test_subscribe_cancel_and_grace_period(team: Team, stripe_http: ValidatingHTTPClient) -> None:
    plan = created_plan(hostapp.org_db)
    customer = create_customer(team, create_card_token())
    assert team.stripe_customer is customer

    subscription = team.subscribe(plan, metadata={"seats": "5"})
    assert team.subscription() is subscription
    assert team.subscribed()
    assert team.subscribed(plan)
    assert stripe_http.last("POST", "/v1/subscriptions").params["metadata"]["seats"] == "5"

    subscription.cancel()
    stripe_http.clear()
    assert team.on_grace_period()
    assert team.subscribed()
    assert not team.on_trial()
    assert not stripe_http.requests

    # Once the paid period is over (read from the database), the grace period is too.
    subscription.current_period_end = utcnow() - dt.timedelta(minutes=1)
    hostapp.org_db.session.commit()
    assert not team.on_grace_period()
    assert not team.subscribed()


def test_on_trial_reads_the_row(team: Team) -> None:
    plan = created_plan(hostapp.org_db)
    row = StripeSubscription(
        plan=plan, subscriber_id=team.id, status=SubscriptionStatus.TRIALING, trial_end=utcnow() + dt.timedelta(days=3)
    )
    hostapp.org_db.session.add(row)
    hostapp.org_db.session.commit()
    assert team.on_trial()
    assert team.subscribed()
    row.trial_end = utcnow() - dt.timedelta(seconds=1)
    hostapp.org_db.session.commit()
    assert not team.on_trial()
    assert not team.subscribed()


def test_charge_stores_and_charges(team: Team) -> None:
    customer = create_customer(team, create_card_token())
    charge = team.charge(1500, comment="Extra seats")
    assert charge.id is not None
    assert charge.subscriber_id == team.id
    assert charge.customer_id == customer.id
    assert (charge.amount, charge.currency, charge.comment) == (1500, "usd", "Extra seats")
    assert charge.status == ChargeStatus.SUCCEEDED
    assert charge.is_charged
