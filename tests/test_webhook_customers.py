"""Customer events keep ``sources``, ``default_source`` and ``is_active`` current, never older over newer.

``customer.updated`` is applied from its payload (old and new shapes); card events (``customer.source.*``,
``payment_method.*``) make the handler re-read the customer from the offline Stripe, where the change was
made beforehand as if in the Stripe Dashboard.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.customers.verbs import create_customer
from flask_stripe_billing.models import StripeCustomer, WebhookStatus
from flask_stripe_billing.testing import create_card_token, send_webhook
from tests import hostapp
from tests import synthetic_events as synthetic
from tests.factories.apps import running_app
from tests.factories.cards import make_payment_method
from tests.factories.webhooks import stored
from tests.stripe_openapi.http_client import ValidatingHTTPClient

NOW = int(time.time())


def local_customer(db: SQLAlchemy, user: hostapp.User, stripe_customer_id: str = "cus_local") -> StripeCustomer:
    """A row for a customer that exists only in our database (``customer.updated`` needs no Stripe call)."""
    row = StripeCustomer(
        subscriber_id=user.id,
        stripe_customer_id=stripe_customer_id,
        is_created_at_stripe=True,
        sources=[{"id": "card_old", "brand": "Visa", "last4": "0000", "exp_month": 1, "exp_year": 2030}],
        default_source="card_old",
    )
    db.session.add(row)
    db.session.commit()
    return row


def card_summary(card_id: str, last4: str = "4242") -> dict[str, Any]:
    return {"id": card_id, "brand": "Visa", "last4": last4, "exp_month": 8, "exp_year": 2030}


def status_of(db: SQLAlchemy) -> set[str]:
    return {hook.status for hook in stored(db)}


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_customer_updated_applies_the_payload(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape
) -> None:
    row = local_customer(db, user)
    card = synthetic.card(shape, "card_new", "cus_local", last4="1881")
    data = synthetic.customer(shape, "cus_local", [card], "card_old" if shape == "new" else "card_new")

    response = send_webhook(client, "customer.updated", data, created=NOW)

    assert response.status_code == 200
    assert status_of(db) == {WebhookStatus.PROCESSED}
    if shape == "old":  # the card list replaces ours
        fields = ("brand", "exp_month", "exp_year")
        assert row.sources == [{"id": "card_new", "last4": "1881", **{field: card[field] for field in fields}}]
        assert row.default_source == "card_new"
    else:  # no card list: our cards are kept, the default is taken
        assert [source["id"] for source in row.sources] == ["card_old"]
        assert row.default_source == "card_old"
    assert row.stripe_synced_at == dt.datetime.fromtimestamp(NOW, dt.UTC)
    assert row.stripe_response is not None
    assert row.stripe_response["id"] == "cus_local"
    assert row.is_active


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_an_older_customer_updated_does_not_overwrite_a_newer_one(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape
) -> None:
    row = local_customer(db, user)
    row.sources = [*row.sources, card_summary("card_b")]
    db.session.commit()
    newer = synthetic.customer(shape, "cus_local", [synthetic.card(shape, "card_b", "cus_local")], "card_b")
    older = synthetic.customer(shape, "cus_local", [synthetic.card(shape, "card_a", "cus_local")], "card_old")

    send_webhook(client, "customer.updated", newer, created=NOW)
    send_webhook(client, "customer.updated", older, created=NOW - 60)

    assert status_of(db) == {WebhookStatus.PROCESSED}  # the older event is processed, and changes nothing
    assert row.default_source == "card_b"
    assert row.stripe_synced_at == dt.datetime.fromtimestamp(NOW, dt.UTC)
    if shape == "old":
        assert [source["id"] for source in row.sources] == ["card_b"]


def test_a_newer_event_after_an_older_one_wins(client: FlaskClient, db: SQLAlchemy, user: hostapp.User) -> None:
    row = local_customer(db, user)
    first = synthetic.customer("old", "cus_local", [synthetic.card("old", "card_a", "cus_local")], "card_a")
    second = synthetic.customer("old", "cus_local", [synthetic.card("old", "card_b", "cus_local")], "card_b")

    send_webhook(client, "customer.updated", first, created=NOW - 60)
    send_webhook(client, "customer.updated", second, created=NOW)

    assert row.default_source == "card_b"
    assert [source["id"] for source in row.sources] == ["card_b"]


def test_an_event_of_the_same_second_is_applied(client: FlaskClient, db: SQLAlchemy, user: hostapp.User) -> None:
    """Stripe gives nothing finer than a second to order two events by: the later delivery wins a tie."""
    row = local_customer(db, user)
    for card_id in ("card_a", "card_b"):
        data = synthetic.customer("old", "cus_local", [synthetic.card("old", card_id, "cus_local")], card_id)
        send_webhook(client, "customer.updated", data, created=NOW)
    assert row.default_source == "card_b"


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_customer_deleted_marks_the_row_inactive_whatever_its_age(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape
) -> None:
    row = local_customer(db, user)
    newer = synthetic.customer(shape, "cus_local", [], None)
    send_webhook(client, "customer.updated", newer, created=NOW)

    send_webhook(client, "customer.deleted", synthetic.deleted_customer(shape, "cus_local"), created=NOW - 60)
    assert not row.is_active
    assert row.stripe_response is not None
    assert row.stripe_response.get("deleted") is None  # the last customer object is kept as a record

    # A late customer.updated does not bring a deleted customer back.
    send_webhook(client, "customer.updated", newer, created=NOW + 60)
    assert not row.is_active
    assert status_of(db) == {WebhookStatus.PROCESSED}


def test_events_about_customers_we_do_not_mirror_are_ignored(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, stripe_http: Any
) -> None:
    row = local_customer(db, user)
    stripe_http.clear()
    send_webhook(client, "customer.updated", synthetic.customer("new", "cus_other", [], "pm_x"))
    send_webhook(client, "customer.deleted", synthetic.deleted_customer("new", "cus_other"))
    send_webhook(client, "payment_method.attached", synthetic.payment_method("new", "pm_x", "cus_other"))
    send_webhook(client, "customer.source.created", synthetic.card("old", "card_x", None))  # not a customer's
    assert status_of(db) == {WebhookStatus.PROCESSED}
    assert list(stripe_http.requests) == []  # nothing to re-read
    assert row.is_active
    assert row.default_source == "card_old"


# Card events: the change is made at the offline Stripe, then the event tells us about it.


def stripe_customer(user: hostapp.User, payment_method: bool = False) -> StripeCustomer:
    return create_customer(user, make_payment_method() if payment_method else create_card_token())


def add_card_at_stripe(stripe_customer_id: str) -> dict[str, Any]:
    return get_state().gateway.request(
        "post",
        f"/v1/customers/{stripe_customer_id}/sources",
        {"source": create_card_token()},
        object_type="source",
        action="create",
    )


def attach(payment_method_id: str, stripe_customer_id: str) -> None:
    get_state().gateway.request(
        "post",
        f"/v1/payment_methods/{payment_method_id}/attach",
        {"customer": stripe_customer_id},
        object_type="payment_method",
        action="attach",
    )


@pytest.mark.parametrize("shape", synthetic.SHAPES)
@pytest.mark.parametrize("action", ["created", "updated", "expiring"])
def test_customer_source_events_reread_the_cards(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape, action: str
) -> None:
    row = stripe_customer(user)
    assert row.stripe_customer_id
    added = add_card_at_stripe(row.stripe_customer_id)
    assert len(row.sources) == 1

    card = synthetic.card(shape, added["id"], row.stripe_customer_id)
    response = send_webhook(client, f"customer.source.{action}", card, created=NOW)

    assert response.status_code == 200
    assert status_of(db) == {WebhookStatus.PROCESSED}
    assert [source["id"] for source in row.sources][-1] == added["id"]
    assert len(row.sources) == 2
    assert row.sources[-1]["last4"] == "4242"


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_customer_source_deleted_removes_the_card(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape
) -> None:
    row = stripe_customer(user)
    assert row.stripe_customer_id
    added = add_card_at_stripe(row.stripe_customer_id)
    send_webhook(client, "customer.source.created", synthetic.card(shape, added["id"], row.stripe_customer_id))
    assert len(row.sources) == 2
    get_state().gateway.request(
        "delete", f"/v1/customers/{row.stripe_customer_id}/sources/{added['id']}", object_type="source", action="delete"
    )

    send_webhook(client, "customer.source.deleted", synthetic.card(shape, added["id"], row.stripe_customer_id))

    assert len(row.sources) == 1
    assert added["id"] not in {source["id"] for source in row.sources}


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_payment_method_attached_and_detached(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, shape: synthetic.Shape
) -> None:
    row = stripe_customer(user, payment_method=True)
    assert row.stripe_customer_id
    gateway = get_state().gateway
    method = {"id": make_payment_method("5555555555554444")}
    attach(method["id"], row.stripe_customer_id)

    attached = synthetic.payment_method(shape, method["id"], row.stripe_customer_id, last4="4444")
    send_webhook(client, "payment_method.attached", attached, created=NOW)
    assert method["id"] in {source["id"] for source in row.sources}

    gateway.request("post", f"/v1/payment_methods/{method['id']}/detach", object_type="payment_method", action="detach")
    detached = synthetic.payment_method(shape, method["id"], None, last4="4444")  # no customer any more
    previous = {"customer": synthetic.customer_ref(shape, row.stripe_customer_id)}
    send_webhook(client, "payment_method.detached", detached, created=NOW, previous_attributes=previous)

    assert method["id"] not in {source["id"] for source in row.sources}
    assert len(row.sources) == 1
    assert status_of(db) == {WebhookStatus.PROCESSED}


@pytest.mark.parametrize("shape", synthetic.SHAPES)
@pytest.mark.parametrize("event_type", ["payment_method.updated", "payment_method.automatically_updated"])
def test_payment_method_updates_reread_the_cards(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User, event_type: str, shape: synthetic.Shape
) -> None:
    row = stripe_customer(user, payment_method=True)
    assert row.stripe_customer_id
    (method,) = row.sources
    row.sources = [{**method, "exp_year": 1999}]  # what a card updater changes, as our stale copy
    db.session.commit()
    send_webhook(client, event_type, synthetic.payment_method(shape, method["id"], row.stripe_customer_id))
    assert row.sources == [method]


def test_an_old_card_event_still_rereads_and_a_late_customer_updated_does_not_undo_it(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User
) -> None:
    """A current-version customer.updated (no card list) may be applied before an older card event: the card
    event re-reads anyway, and an older customer.updated that does carry a card list then changes nothing."""
    row = stripe_customer(user)
    assert row.stripe_customer_id
    cid = row.stripe_customer_id
    original = row.sources[0]["id"]
    added = add_card_at_stripe(cid)
    now = int(time.time())
    send_webhook(client, "customer.updated", synthetic.customer("new", cid, [], original), created=now)
    assert row.stripe_synced_at == dt.datetime.fromtimestamp(now, dt.UTC)  # applied, without the new card
    assert {source["id"] for source in row.sources} == {original}

    send_webhook(client, "customer.source.created", synthetic.card("old", added["id"], cid), created=now - 30)
    assert {source["id"] for source in row.sources} == {original, added["id"]}

    stale = synthetic.customer("old", cid, [synthetic.card("old", original, cid)], original)
    send_webhook(client, "customer.updated", stale, created=now - 20)
    assert {source["id"] for source in row.sources} == {original, added["id"]}


def test_customer_updated_naming_an_unknown_default_card_rereads(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User
) -> None:
    row = stripe_customer(user, payment_method=True)
    assert row.stripe_customer_id
    gateway = get_state().gateway
    method = make_payment_method("5555555555554444")
    attach(method, row.stripe_customer_id)
    gateway.request(
        "post",
        f"/v1/customers/{row.stripe_customer_id}",
        {"invoice_settings": {"default_payment_method": method}},
        object_type="customer",
        action="update",
    )

    send_webhook(client, "customer.updated", synthetic.customer("new", row.stripe_customer_id, [], method))

    assert row.default_source == method
    assert row.default_source_data is not None
    assert row.default_source_data["last4"] == "4444"


def test_customer_updated_with_more_cards_than_listed_rereads(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User
) -> None:
    row = stripe_customer(user)
    assert row.stripe_customer_id
    added = add_card_at_stripe(row.stripe_customer_id)
    data = synthetic.customer("old", row.stripe_customer_id, [], row.default_source)
    data["sources"]["has_more"] = True

    send_webhook(client, "customer.updated", data)  # created now: not older than the row

    assert added["id"] in {source["id"] for source in row.sources}


def test_a_stripe_outage_while_rereading_fails_the_event_for_replay(
    stripe_test_config: dict[str, Any], database_url: str, offline_stripe: Any
) -> None:
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_API_BASE": "http://127.0.0.1:9"}
    with running_app(config, http_client=ValidatingHTTPClient()) as application:
        user = hostapp.User(email="ada@example.com")
        hostapp.db.session.add(user)
        hostapp.db.session.commit()
        row = local_customer(hostapp.db, user)

        response = send_webhook(application, "customer.source.created", synthetic.card("new", "card_x", "cus_local"))

        assert response.status_code == 200
        (hook,) = stored(hostapp.db)
        assert (hook.status, hook.attempts) == (WebhookStatus.FAILED, 1)
        assert hook.parse_error
        assert "STRIPE_API_BASE" in hook.parse_error or "Connection" in hook.parse_error
        assert row.sources == [{"id": "card_old", "brand": "Visa", "last4": "0000", "exp_month": 1, "exp_year": 2030}]


def test_a_customer_object_as_stripe_sends_it_keeps_the_payment_method_cards(
    client: FlaskClient, db: SQLAlchemy, user: hostapp.User
) -> None:
    """A customer object lists card sources only, never payment methods: the row's ``pm_`` cards stay."""
    row = stripe_customer(user, payment_method=True)
    [card] = row.sources
    assert card["id"].startswith("pm_")
    as_sent = get_state().gateway.request("get", f"/v1/customers/{row.stripe_customer_id}")
    assert "payment_methods" not in as_sent

    send_webhook(client, "customer.updated", as_sent, created=int(time.time()) + 5)

    db.session.refresh(row)
    assert row.sources == [card]
    assert row.default_source_data == card


def test_an_expanded_customer_id_is_stored_as_its_id(client: FlaskClient, db: SQLAlchemy, user: hostapp.User) -> None:
    row = local_customer(db, user)
    data = synthetic.customer("old", "cus_local", [], None)
    data["id"] = {"id": "cus_local", "object": "customer"}

    response = send_webhook(client, "customer.updated", data, created=int(time.time()) + 5)

    assert response.status_code == 200
    assert status_of(db) == {WebhookStatus.PROCESSED}
    db.session.refresh(row)
    assert row.stripe_customer_id == "cus_local"
