"""A charge paid through Checkout is never also charged off-session: the pay page claims it for its session, the
runner and ``charge()`` leave it alone while the claim lasts and read the session once it has lapsed, and the
session's end (expiry webhook, back link, Stripe's refusal) gives the charge back.  Sessions are held by the
spec-validating stub."""

from __future__ import annotations

import datetime as dt
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask.testing import FlaskClient

from flask_stripe_billing import charges, errors
from flask_stripe_billing.charges.checkout_claims import CLAIM_MARGIN, OPENING_WINDOW, SESSION_LIFETIME
from flask_stripe_billing.charges.runner import run_charges
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.models import Base, ChargeStatus, StripeCharge, StripeCustomer, utcnow
from flask_stripe_billing.testing import SignalRecorder
from tests import hostapp
from tests.factories.apps import log_in, make_user, running_app
from tests.factories.charges import customer_with, intents_for, new_charge
from tests.factories.checkout import checkout_app, complete_in_stub, session_event_object
from tests.factories.pages import flashed, post
from tests.factories.webhooks import send_event
from tests.stripe_openapi.http_client import ValidatingHTTPClient
from tests.stripe_openapi.stub import Answer, StripeStub, stripe_error

SESSIONS = "/v1/checkout/sessions"
SESSION = "/v1/checkout/sessions/{session}"
EXPIRE = "/v1/checkout/sessions/{session}/expire"
INTENTS = "/v1/payment_intents"


@pytest.fixture
def app(stub: StripeStub, database_url: str, stripe_http: ValidatingHTTPClient) -> Iterator[Flask]:
    with checkout_app(stub, database_url, stripe_http, STRIPE_CHECKOUT=True) as application:
        stub.on("POST", INTENTS, lambda params, _: (200, succeeded_intent(stub, params)))
        stub.on("POST", EXPIRE, lambda params, _: expire_in_stub(stub, params["session"]))
        yield application


@pytest.fixture
def user(app: Flask) -> hostapp.User:
    """A subscriber whose customer at the stub has a card (the stub takes any payment)."""
    account = make_user(hostapp.db)
    data = get_state().gateway.request("post", "/v1/customers", {}, object_type="test", action="create")
    customer = StripeCustomer(
        subscriber_id=account.id, stripe_customer_id=data["id"], default_source="pm_stub", is_created_at_stripe=True
    )
    hostapp.db.session.add(customer)
    hostapp.db.session.commit()
    return account


@pytest.fixture
def client(app: Flask, user: hostapp.User) -> FlaskClient:
    return log_in(app.test_client(), user)


def succeeded_intent(stub: StripeStub, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe answers an off-session charge that went through, held by the stub."""
    intent = stub.store.create("payment_intent", params)
    intent.update(
        status="succeeded",
        amount=params["amount"],
        currency=params["currency"],
        customer=params.get("customer"),
        metadata=params.get("metadata") or {},
        latest_charge=None,
        last_payment_error=None,
        **fields,
    )
    intent.pop("charges", None)
    return intent


def expire_in_stub(stub: StripeStub, session_id: str) -> Answer:
    """``POST .../expire`` as Stripe answers it: only an open session can be expired."""
    session = stub.store.get(session_id)
    assert session is not None
    if session["status"] != "open":
        return stripe_error(
            400, f"Only Checkout Sessions with a status in [open] can be expired; it is {session['status']}."
        )
    session.update(status="expired", url=None)
    return 200, session


def paid_in_stub(stub: StripeStub, charge: StripeCharge) -> dict[str, Any]:
    """The charge's session completed in the stub, as once the customer paid on the page: its PaymentIntent
    carries what the pay page asked for."""
    session = stub.store.get(str(charge.stripe_checkout_session_id))
    assert session is not None
    params = {"amount": charge.amount, "currency": charge.currency, "customer": session["customer"]}
    intent = succeeded_intent(stub, {**params, "metadata": {"charge_id": str(charge.id)}})
    return complete_in_stub(stub, session["id"], payment_intent=intent["id"])


def open_checkout(client: FlaskClient, charge: StripeCharge) -> Any:
    """Click the pay page's button; return the response (*charge* is read again)."""
    response = post(client, f"/billing/charges/{charge.id}/pay")
    refresh(charge)
    return response


def refresh(charge: StripeCharge) -> StripeCharge:
    """The row as committed (other connections included)."""
    hostapp.db.session.commit()
    hostapp.db.session.refresh(charge)
    return charge


def lapse(charge: StripeCharge) -> None:
    """Let the claim run out, as it does once the session has expired (rather than waiting an hour)."""
    hostapp.db.session.execute(
        sa.update(StripeCharge)
        .where(StripeCharge.id == charge.id)
        .values(claimed_until=utcnow() - dt.timedelta(minutes=1))
    )
    hostapp.db.session.commit()
    refresh(charge)


def requests_to(stripe_http: ValidatingHTTPClient, method: str, path: str) -> list[Any]:
    return [r for r in stripe_http.requests if r.method == method and r.templated_path == path]


def sessions_in(stub: StripeStub) -> list[dict[str, Any]]:
    return [obj for obj in stub.store.objects.values() if obj.get("object") == "checkout.session"]


def charge_with_runner(charge: StripeCharge) -> None:
    summary = run_charges(workers=1)
    assert summary.errors == 0, summary.failures


def charge_directly(charge: StripeCharge) -> None:
    charges.charge(charge)


CHARGERS = [
    pytest.param(charge_with_runner, id="flask-stripe-charge"),
    pytest.param(charge_directly, id="charge()"),
]


# -- the claim -------------------------------------------------------------------------------------------------


def test_the_pay_page_claims_the_charge_for_a_session_that_expires(
    client: FlaskClient, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user, 2500, description="Workshop seat")
    before = utcnow().replace(microsecond=0)
    response = open_checkout(client, charge)

    assert response.status_code == 303
    request = stripe_http.last("POST", SESSIONS)
    assert request.idempotency_key
    sent = request.params
    assert response.headers["Location"].startswith("https://checkout.stripe.com/")
    assert sent["metadata"]["charge_id"] == str(charge.id)
    assert sent["cancel_url"].endswith(f"/billing/charges/{charge.id}/pay?checkout=canceled")
    expires_at = dt.datetime.fromtimestamp(int(sent["expires_at"]), dt.UTC)
    assert before + SESSION_LIFETIME <= expires_at <= utcnow() + SESSION_LIFETIME
    assert (charge.status, charge.claimed_by) == (ChargeStatus.IN_FLIGHT, "checkout")
    assert charge.claimed_until == expires_at + CLAIM_MARGIN
    assert charge.stripe_checkout_session_id is not None
    assert charge.stripe_checkout_session_id.startswith("cs_")


def test_the_runner_and_charge_leave_a_charge_held_by_checkout(
    app: Flask, client: FlaskClient, user: hostapp.User, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    stripe_http.clear()

    summary = run_charges(workers=1)
    assert summary.total == 0
    with pytest.raises(errors.ChargeStateError, match="through Checkout"):
        charges.charge(charge)
    listed = app.test_cli_runner().invoke(args=["stripe", "charge", "--dry-run"])
    assert "Would charge 0 charge(s)." in listed.output
    assert list(stripe_http.requests) == []
    assert refresh(charge).status == ChargeStatus.IN_FLIGHT
    assert charge.claimed_by == "checkout"


# -- once the claim has lapsed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("charge_it", CHARGERS)
def test_after_the_lease_a_paid_session_is_stored_instead_of_charging(
    client: FlaskClient,
    user: hostapp.User,
    stub: StripeStub,
    stripe_http: ValidatingHTTPClient,
    charge_it: Callable[[StripeCharge], None],
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    session = paid_in_stub(stub, charge)
    lapse(charge)
    stripe_http.clear()

    with SignalRecorder() as recorder:
        charge_it(charge)

    assert requests_to(stripe_http, "POST", INTENTS) == []
    assert requests_to(stripe_http, "POST", EXPIRE) == []
    refresh(charge)
    assert (charge.status, charge.is_charged) == (ChargeStatus.SUCCEEDED, True)
    assert charge.stripe_payment_intent_id == session["payment_intent"]
    assert (charge.claimed_by, charge.claimed_until) == (None, None)
    assert [name for name in recorder.names if "charge" in name] == ["stripe-charge-succeeded"]


@pytest.mark.parametrize("charge_it", CHARGERS)
def test_after_the_lease_an_open_session_is_expired_then_the_charge_is_charged(
    client: FlaskClient,
    user: hostapp.User,
    stub: StripeStub,
    stripe_http: ValidatingHTTPClient,
    charge_it: Callable[[StripeCharge], None],
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    session_id = charge.stripe_checkout_session_id
    lapse(charge)
    stripe_http.clear()

    charge_it(charge)

    [expire] = requests_to(stripe_http, "POST", EXPIRE)
    assert expire.path_params == {"session": session_id}
    assert expire.idempotency_key
    assert len(requests_to(stripe_http, "POST", INTENTS)) == 1
    assert stub.store.objects[str(session_id)]["status"] == "expired"
    refresh(charge)
    assert (charge.status, charge.is_charged) == (ChargeStatus.SUCCEEDED, True)
    assert charge.stripe_checkout_session_id is None


def test_a_session_completed_while_the_runner_expires_it_is_stored_not_charged(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    lapse(charge)
    session = stub.store.objects[str(charge.stripe_checkout_session_id)]
    intent = succeeded_intent(stub, {"amount": charge.amount, "currency": "usd", "customer": session["customer"]})
    intent["metadata"] = {"charge_id": str(charge.id)}

    def paid_just_before(params: dict[str, Any], stored: Any) -> Answer:
        complete_in_stub(stub, session["id"], payment_intent=intent["id"])  # the customer's payment arrives first
        return expire_in_stub(stub, params["session"])

    stub.on("POST", EXPIRE, paid_just_before)
    stripe_http.clear()
    summary = run_charges(workers=1)

    assert (summary.total, summary.skipped, summary.errors) == (1, 1, 0)
    assert requests_to(stripe_http, "POST", INTENTS) == []
    assert refresh(charge).status == ChargeStatus.SUCCEEDED


def test_an_expired_session_is_simply_charged(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    stub.store.objects[str(charge.stripe_checkout_session_id)].update(status="expired", url=None)
    lapse(charge)
    stripe_http.clear()

    summary = run_charges(workers=1)

    assert (summary.succeeded, summary.errors) == (1, 0)
    assert requests_to(stripe_http, "POST", EXPIRE) == []
    assert refresh(charge).status == ChargeStatus.SUCCEEDED


def test_a_session_that_cannot_be_expired_is_not_charged(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    lapse(charge)
    stub.on("POST", EXPIRE, lambda params, _: stripe_error(500, "Something went wrong.", kind="api_error"))
    stripe_http.clear()

    summary = run_charges(workers=1)

    assert summary.errors == 1
    assert requests_to(stripe_http, "POST", INTENTS) == []
    refresh(charge)
    assert charge.status == ChargeStatus.IN_FLIGHT
    assert charge.stripe_checkout_session_id is not None
    assert charge.claimed_until is None  # the next run reads the session again


# -- clicks ----------------------------------------------------------------------------------------------------


def test_a_second_click_reuses_the_open_session(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    first = open_checkout(client, charge)
    second = post(client, f"/billing/charges/{charge.id}/pay")

    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert len(requests_to(stripe_http, "POST", SESSIONS)) == 1
    assert len(sessions_in(stub)) == 1


def test_the_pay_page_of_a_charge_awaiting_its_session_leads_back_to_it(
    client: FlaskClient, user: hostapp.User, stub: StripeStub
) -> None:
    charge = new_charge(hostapp.db, user)
    first = open_checkout(client, charge)
    page = client.get(f"/billing/charges/{charge.id}/pay")
    assert page.status_code == 200
    assert b"Continue to checkout" in page.data
    assert b"please do not pay again" not in page.data
    again = post(client, f"/billing/charges/{charge.id}/pay")
    assert again.headers["Location"] == first.headers["Location"]


def test_a_click_after_the_session_expired_opens_a_new_one(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    old = charge.stripe_checkout_session_id
    stub.store.objects[str(old)].update(status="expired", url=None)

    response = open_checkout(client, charge)

    assert response.status_code == 303
    assert len(requests_to(stripe_http, "POST", SESSIONS)) == 2
    assert charge.stripe_checkout_session_id not in (None, old)
    assert (charge.status, charge.claimed_by) == (ChargeStatus.IN_FLIGHT, "checkout")


def test_a_click_after_the_session_was_paid_shows_the_payment(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    paid_in_stub(stub, charge)

    response = post(client, f"/billing/charges/{charge.id}/pay")

    assert response.status_code == 302
    assert ("success", "Thank you: your payment went through.") in flashed(client)
    assert len(requests_to(stripe_http, "POST", SESSIONS)) == 1
    assert refresh(charge).status == ChargeStatus.SUCCEEDED
    assert charge.claimed_by is None


def test_concurrent_clicks_make_one_session(
    app: Flask, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    clients = [log_in(app.test_client(), user) for _ in range(4)]
    others_answered = threading.Event()
    creating = threading.Event()

    def create_when_the_others_have_clicked(params: dict[str, Any], stored: Any) -> Answer:
        creating.set()
        others_answered.wait(timeout=30)  # the others click while this session is being created
        return 200, stub.store.create("checkout.session", params)

    stub.on("POST", SESSIONS, create_when_the_others_have_clicked)
    answers: dict[int, Any] = {}

    path = f"/billing/charges/{charge.id}/pay"

    def click(index: int) -> None:
        answers[index] = post(clients[index], path)

    first = threading.Thread(target=click, args=(0,))
    first.start()
    assert creating.wait(timeout=30)
    others = [threading.Thread(target=click, args=(index,)) for index in range(1, len(clients))]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(timeout=60)
    others_answered.set()
    first.join(timeout=60)

    assert len(sessions_in(stub)) == 1
    assert answers[0].status_code == 303
    for index in range(1, len(clients)):
        assert answers[index].status_code == 302
        assert ("info", "Your checkout page is being opened: please try again in a moment.") in flashed(clients[index])
    again = post(clients[1], f"/billing/charges/{charge.id}/pay")
    assert again.headers["Location"] == answers[0].headers["Location"]
    assert len(sessions_in(stub)) == 1
    assert refresh(charge).stripe_checkout_session_id == sessions_in(stub)[0]["id"]


# -- the end of a session --------------------------------------------------------------------------------------


@pytest.mark.parametrize("declined_before", [False, True], ids=["pending", "declined-before"])
def test_the_expiry_webhook_gives_the_charge_back(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient, declined_before: bool
) -> None:
    fields = {"status": ChargeStatus.FAILED, "charge_attempt_failed": True} if declined_before else {}
    charge = new_charge(hostapp.db, user, **fields)
    open_checkout(client, charge)
    session = stub.store.objects[str(charge.stripe_checkout_session_id)]
    session.update(status="expired", url=None)
    stripe_http.clear()

    send_event(client, "checkout.session.expired", session_event_object(session))

    assert list(stripe_http.requests) == []  # an expired session stays so: nothing to re-read
    refresh(charge)
    assert charge.status == (ChargeStatus.FAILED if declined_before else ChargeStatus.PENDING)
    assert (charge.claimed_by, charge.claimed_until, charge.stripe_checkout_session_id) == (None, None, None)
    summary = run_charges(workers=1)
    assert summary.succeeded == (0 if declined_before else 1)  # a declined charge is never retried by the runner


def test_the_back_link_expires_the_session_and_gives_the_charge_back(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    session_id = str(charge.stripe_checkout_session_id)
    cancel_path = stripe_http.last("POST", SESSIONS).params["cancel_url"].removeprefix("http://billing.test")

    response = client.get(cancel_path)

    assert response.status_code == 302
    assert ("info", "Checkout canceled: nothing was taken.") in flashed(client)
    assert len(requests_to(stripe_http, "POST", EXPIRE)) == 1
    assert stub.store.objects[session_id]["status"] == "expired"
    refresh(charge)
    assert (charge.status, charge.claimed_by, charge.stripe_checkout_session_id) == (ChargeStatus.PENDING, None, None)


def test_the_return_page_stores_the_payment_and_drops_the_claim(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    open_checkout(client, charge)
    session = paid_in_stub(stub, charge)

    client.get(f"/billing/checkout/return?session_id={session['id']}")

    refresh(charge)
    assert (charge.status, charge.claimed_by, charge.claimed_until) == (ChargeStatus.SUCCEEDED, None, None)
    stripe_http.clear()
    assert run_charges(workers=1).total == 0


def test_a_refused_session_gives_the_claim_back(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    stub.on("POST", SESSIONS, lambda params, _: stripe_error(400, "Invalid currency.", param="currency"))

    response = open_checkout(client, charge)

    assert response.status_code == 400
    assert (charge.status, charge.claimed_by, charge.claimed_until) == (ChargeStatus.PENDING, None, None)


def test_a_lost_answer_keeps_the_claim_until_the_opening_window_has_passed(
    client: FlaskClient, user: hostapp.User, stub: StripeStub, stripe_http: ValidatingHTTPClient
) -> None:
    charge = new_charge(hostapp.db, user)
    stub.on("POST", SESSIONS, lambda params, _: stripe_error(500, "Something went wrong.", kind="api_error"))

    lost = open_checkout(client, charge)

    assert lost.status_code == 502
    assert (charge.status, charge.claimed_by, charge.stripe_checkout_session_id) == (
        ChargeStatus.IN_FLIGHT,
        "checkout",
        None,
    )
    assert run_charges(workers=1).total == 0
    del stub._handlers["POST", SESSIONS]  # Stripe answers again
    soon = post(client, f"/billing/charges/{charge.id}/pay")
    assert soon.status_code == 302
    assert ("info", "Your checkout page is being opened: please try again in a moment.") in flashed(client)
    assert sessions_in(stub) == []

    assert charge.claimed_until is not None
    hostapp.db.session.execute(  # the claim began longer ago than the opening window
        sa.update(StripeCharge)
        .where(StripeCharge.id == charge.id)
        .values(claimed_until=charge.claimed_until - OPENING_WINDOW - dt.timedelta(seconds=1))
    )
    hostapp.db.session.commit()
    later = open_checkout(client, charge)

    assert later.status_code == 303
    [session] = sessions_in(stub)
    assert charge.stripe_checkout_session_id == session["id"]


# -- end to end, on the offline Stripe --------------------------------------------------------------------------


@pytest.fixture
def offline_pages(
    database_url: str, stripe_test_config: dict[str, Any], stripe_http: ValidatingHTTPClient
) -> Iterator[Flask]:
    """A host app on the (emptied) offline Stripe, paying charges through Checkout."""
    stripe_http.clear()
    config = {**stripe_test_config, "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_CHECKOUT": True}
    with running_app({**config, "SERVER_NAME": "billing.test"}, http_client=stripe_http) as application:
        yield application


def test_on_the_offline_stripe_an_abandoned_session_is_expired_then_charged_once(
    offline_pages: Flask, stripe_http: ValidatingHTTPClient
) -> None:
    db = hostapp.db
    user = make_user(db)
    customer_with(user)
    charge = new_charge(db, user, 1800, description="Workshop seat")
    client = log_in(offline_pages.test_client(), user)

    response = open_checkout(client, charge)
    if response.status_code == 400 and "Checkout" in response.text:
        pytest.skip("this offline Stripe has no Checkout Sessions")
    assert response.status_code == 303
    session_id = str(charge.stripe_checkout_session_id)
    assert response.headers["Location"].endswith(f"/checkout/pay/{session_id}")
    assert run_charges(workers=1).total == 0

    lapse(charge)
    summary = run_charges(workers=1)

    assert (summary.succeeded, summary.errors) == (1, 0)
    assert get_state().gateway.request("get", f"{SESSIONS}/{session_id}")["status"] == "expired"
    assert [intent["status"] for intent in intents_for(charge.id)] == ["succeeded"]
    assert refresh(charge).status == ChargeStatus.SUCCEEDED


# -- the migration ---------------------------------------------------------------------------------------------

MIGRATIONS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "migrations.rst"


def test_the_documented_migration_adds_the_session_column(scratch_database: str) -> None:
    section = MIGRATIONS_PAGE.read_text().split("\nCharges paid through Checkout\n", 1)[1]
    lines = section.split(".. code-block:: python\n", 1)[1].splitlines()
    end = next(index for index, line in enumerate(lines) if line and not line.startswith(" "))
    namespace: dict[str, Any] = {"sa": sa}
    exec(compile(textwrap.dedent("\n".join(lines[:end])), str(MIGRATIONS_PAGE), "exec"), namespace)  # noqa: S102

    current = StripeCharge.__table__
    models = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    sa.Table(current.name, models, *(_plain(column) for column in current.columns))
    before = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    old = [_plain(column) for column in current.columns if column.name != "stripe_checkout_session_id"]
    sa.Table(current.name, before, *old)

    def differences(connection: sa.Connection) -> list[Any]:
        found = compare_metadata(MigrationContext.configure(connection), models)
        return [difference for difference in found if "stripe_checkout_session_id" in repr(difference)]

    engine = sa.create_engine(scratch_database)
    try:
        with engine.begin() as connection:
            before.create_all(connection)
            assert differences(connection)
            namespace["op"] = Operations(MigrationContext.configure(connection))
            namespace["upgrade"]()
            assert differences(connection) == []
            constraints = {c["name"] for c in sa.inspect(connection).get_unique_constraints(current.name)}
            assert "uq_stripe_billing_charges_stripe_checkout_session_id" in constraints
            namespace["op"] = Operations(MigrationContext.configure(connection))
            namespace["downgrade"]()
            assert "stripe_checkout_session_id" not in {
                c["name"] for c in sa.inspect(connection).get_columns(current.name)
            }
    finally:
        engine.dispose()


def _plain(column: sa.Column[Any]) -> sa.Column[Any]:
    """*column* without its foreign key (the scratch database has no subscriber table), unique as in the model."""
    return sa.Column(
        column.name, column.type, primary_key=column.primary_key, nullable=column.nullable, unique=column.unique
    )
