"""The offline Stripe's Checkout (added to localstripe in the server process): the API of Checkout Sessions
(:mod:`.checkout_session`: ``POST /v1/checkout/sessions``, retrieve, list by ``customer``, ``payment_intent``
or ``subscription``, ``POST .../{id}/expire``, ``GET .../{id}/line_items``), and the hosted page at each
session's ``url`` (``http://<this server>/checkout/pay/<id>``), which completes the session.

The page takes a card through the offline Stripe.js: a SetupIntent of the session's
(``POST /checkout/pay/<id>/setup_intent``), confirmed in the browser, 3-D Secure included, then the form is
posted with the SetupIntent's id and the email.  Completing makes the customer (in subscription mode, or with
``customer_creation=always``) and attaches the card to it, then creates the subscription (on the session's
price, with its trial and discount; the card becomes the customer's default), the PaymentIntent (confirmed) or
keeps the SetupIntent; marks the session ``complete``; sends ``checkout.session.completed``; and redirects
(303) to ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced.  The card was authenticated once, on the
page: the payment that follows counts as authenticated, as at Stripe's Checkout.  A card declined when charged
is refused before anything is made, with Stripe's message on the page; the session stays open.

A payment that settles later (SEPA Direct Debit) completes the session ``unpaid``; its outcome sends
``checkout.session.async_payment_succeeded`` or ``checkout.session.async_payment_failed``.  A session past
``expires_at`` is ``expired`` (checked at each use and every second) and ``checkout.session.expired`` is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from . import api, hosted, prices
from .checkout_session import CheckoutSession, applied, create_session, setup_intent_of
from .common import Exported, count_redemption, find_promotion, refuse, store_key

DECLINED = "Your card was declined."
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BUTTONS = {"payment": "Pay", "subscription": "Subscribe", "setup": "Save card"}


def find_session(resources: Any, session_id: str) -> CheckoutSession:
    """The session *session_id*, expired first if its time has passed; Stripe's 404 when unknown."""
    session = resources.store.get(store_key(CheckoutSession.object, session_id))
    if not isinstance(session, CheckoutSession):
        raise api.no_such(resources, "checkout.session", session_id, "session", 404)
    expire_if_due(resources, session)
    return session


def expire(resources: Any, session: CheckoutSession) -> CheckoutSession:
    """Expire an open *session* and send ``checkout.session.expired``."""
    if session.status != "open":
        message = f"Only Checkout Sessions with a status in [open] can be expired; this one is {session.status}."
        raise refuse(resources, message, "session")
    session.status, session.url = "expired", None
    for intent_id in session._setup_intents:
        intent = resources.SetupIntent._api_retrieve(intent_id)
        if intent.status != "succeeded":
            intent.status, intent.next_action = "canceled", None
    api.send_event(resources, "checkout.session.expired", session)
    return session


def expire_if_due(resources: Any, session: CheckoutSession) -> None:
    """Expire *session* if it is open past its ``expires_at``."""
    if session.status == "open" and session.expires_at <= time.time():
        expire(resources, session)


def all_sessions(resources: Any) -> list[CheckoutSession]:
    """Every session in the store, newest first."""
    return [value for value in reversed(list(resources.store.values())) if isinstance(value, CheckoutSession)]


def complete(resources: Any, session: CheckoutSession, form: dict[str, str]) -> None:
    """Complete *session* with the card of the SetupIntent ``form["setup_intent"]`` and ``form["email"]``, or
    raise Stripe's error (the session stays open)."""
    expire_if_due(resources, session)
    if session.status != "open":
        raise refuse(resources, "This Checkout Session is no longer active.", "session")
    intent_id = form.get("setup_intent", "")
    if intent_id not in session._setup_intents:
        raise refuse(resources, "Add your card details to continue.", "setup_intent")
    intent = resources.SetupIntent._api_retrieve(intent_id)
    if intent.status != "succeeded" or not intent.payment_method:
        raise refuse(resources, "Your card could not be confirmed. Please try again.", "setup_intent", status=402)
    method = resources.PaymentMethod._api_retrieve(intent.payment_method)
    known = resources.store.get(store_key("customer", session.customer)) if session.customer else None
    email = (form.get("email") or session.customer_email or getattr(known, "email", None) or "").strip()
    if not EMAIL.match(email) and known is None:
        raise refuse(resources, "Your email address is invalid.", "email")
    if method.type == "card" and session.mode != "setup" and method._charging_is_declined():
        raise refuse(resources, DECLINED, status=402, code="card_declined")
    customer = session.customer or session._new_customer
    if customer is None and (session.mode == "subscription" or session.customer_creation == "always"):
        customer = session._new_customer = resources.Customer._api_create(email=email).id
    if customer and method.customer != customer:
        resources.PaymentMethod._api_attach(method.id, customer=customer)
        api.send_event(resources, "payment_method.attached", method)
    if session.mode == "payment":
        _pay(resources, session, customer, method)
    elif session.mode == "subscription" and customer is not None:
        _subscribe(resources, session, customer, method)
    session.status, session.url, session.customer = "complete", None, customer
    session.customer_details = {"address": None, "email": email, "name": None, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}  # fmt: skip
    api.send_event(resources, "checkout.session.completed", session)


def _pay(resources: Any, session: CheckoutSession, customer: str | None, method: Any) -> None:
    """Take the session's total with a new PaymentIntent (the previous attempt's is canceled)."""
    total = session.amounts()[2]
    if total == 0:
        return
    if session.payment_intent:
        previous = resources.PaymentIntent._api_retrieve(session.payment_intent)
        if previous.status in ("requires_payment_method", "requires_confirmation", "requires_action"):
            resources.PaymentIntent._api_cancel(previous.id)
    data = session._payment_intent_data
    given = {key: data[key] for key in ("capture_method", "description", "statement_descriptor") if data.get(key)}
    given["metadata"] = dict(data.get("metadata") or {})
    intent = resources.PaymentIntent(
        amount=total, currency=session.currency, customer=customer, payment_method=method.id, **given
    )
    session.payment_intent = intent.id
    intent._confirm(on_failure_now=intent._report_failure)
    if intent.status == "requires_action":
        resources.PaymentIntent._api_authenticate(intent.id, client_secret=intent.client_secret, success=True)
    _settle(session, intent, method)
    if session._discount:
        session._discount["_coupon"].times_redeemed += 1
        count_redemption(session._discount, resources)


def _settle(session: CheckoutSession, intent: Any, method: Any) -> None:
    """Whether the payment is in: a debit (not a card) settles later, whatever its charge says now."""
    later = method.type != "card" or intent.status == "processing"
    session._paid = intent.status == "succeeded" and not later
    session._pending_payment = intent.id if later else None


def _subscribe(resources: Any, session: CheckoutSession, customer: str, method: Any) -> None:
    """Create the session's subscription, paid from *method* (made the customer's default)."""
    resources.Customer._api_update(customer, invoice_settings={"default_payment_method": method.id})
    for line in session._lines:
        if not line["recurring"]:
            resources.InvoiceItem(customer=customer, amount=line["unit_amount"] * line["quantity"],
                                  currency=line["currency"], description=line["name"])  # fmt: skip
    line = next(line for line in session._lines if line["recurring"])
    data = session._subscription_data
    options: dict[str, Any] = {key: data[key] for key in ("trial_period_days", "trial_end") if data.get(key)}
    if session._discount:
        key = "promotion_code" if session._discount["promotion_code"] else "coupon"
        options["discounts"] = [{key: session._discount[key]}]
    subscription = resources.Subscription._api_create(
        customer=customer, items=[{"price": line["price_id"], "quantity": line["quantity"]}],
        metadata=dict(data.get("metadata") or {}), **options,
    )  # fmt: skip
    subscription.default_payment_method = method.id
    if data.get("description"):
        subscription.description = data["description"]
    invoice = resources.store.get(store_key("invoice", subscription.latest_invoice or ""))
    intent = resources.store.get(store_key("payment_intent", getattr(invoice, "payment_intent", None) or ""))
    if intent is not None and intent.status == "requires_action":
        with contextlib.suppress(resources.UserError):  # a failed charge leaves it incomplete: refused below
            resources.PaymentIntent._api_authenticate(intent.id, client_secret=intent.client_secret, success=True)
    if subscription.status not in ("active", "trialing"):
        error = intent.last_payment_error if intent is not None else None
        resources.Subscription._api_delete(subscription.id)
        raise refuse(resources, (error or {}).get("message") or DECLINED, status=402, code="card_declined")
    session.subscription = subscription.id
    if intent is not None:
        _settle(session, intent, method)


def payment_settled(resources: Any, intent: Any, succeeded: bool) -> None:
    """Tell the completed session waiting for *intent* (a payment that settles later) how it went."""
    for session in all_sessions(resources):
        if session.status == "complete" and session._pending_payment == intent.id:
            session._pending_payment, session._paid = None, succeeded
            kind = "succeeded" if succeeded else "failed"
            api.send_event(resources, f"checkout.session.async_payment_{kind}", session)


def view(resources: Any, session: CheckoutSession, **messages: str | None) -> dict[str, Any]:
    """What :func:`.hosted.checkout_page` shows of *session* (with ``error`` or ``promotion_error``)."""
    subtotal, discount, total = session.amounts()
    currency = session.currency or "usd"
    lines = [{"name": line["name"], "quantity": line["quantity"], "interval": hosted.interval(line["recurring"]),
              "amount": hosted.money(line["unit_amount"] * line["quantity"], line["currency"])}
             for line in session._lines]  # fmt: skip
    recurring = next((line for line in session._lines if line["recurring"]), None)
    trial, data = "", session._subscription_data
    if recurring and session.trial:
        free = f"{data['trial_period_days']} days free" if data.get("trial_period_days") else "Free trial"
        after = hosted.money(recurring["unit_amount"] * recurring["quantity"], currency)
        trial = f"{free}, then {after} {hosted.interval(recurring['recurring'])}"
    known = resources.store.get(store_key("customer", session.customer)) if session.customer else None
    email = getattr(known, "email", None) or session.customer_email
    code = session._discount["code"] if session._discount else None
    headline = {"payment": "Pay", "setup": "Save a card for future payments"}.get(session.mode)
    return {
        "id": session.id, "mode": session.mode, "lines": lines, "subtotal": hosted.money(subtotal, currency),
        "discount": hosted.money(discount, currency) if discount else "", "trial": trial,
        "total": hosted.money(total, currency) if session.mode != "setup" else "",
        "headline": headline or f"Subscribe to {recurring['name'] if recurring else 'a plan'}",
        "cancel_url": session.cancel_url, "email": email or "", "email_locked": bool(email),
        "promotion": (code or "") if session.allow_promotion_codes else None, "button": BUTTONS[session.mode],
        "promotion_error": messages.get("promotion_error"), "error": messages.get("error"),
    }  # fmt: skip


def _message(error: Any) -> str:
    return str(error.body.get("error", {}).get("message") or "Something went wrong. Please try again.")


def install(resources: Any, app: Any) -> None:  # pragma: no cover - child process
    """Add Checkout Sessions, their API and their hosted page to localstripe's *resources* and aiohttp *app*;
    sessions hear of payments that settle later."""
    from localstripe import server

    def list_sessions(data: dict[str, Any]) -> Any:
        api.check_params(resources, data, prices.PAGE_PARAMS | {"customer", "payment_intent", "subscription"})
        sessions = all_sessions(resources)
        for session in sessions:
            expire_if_due(resources, session)
        for name in ("customer", "payment_intent", "subscription"):
            if name in data:
                sessions = [session for session in sessions if getattr(session, name) == data[name]]
        return api.page(resources, sessions, "/v1/checkout/sessions", data, "checkout.session")

    def line_items(session_id: str, data: dict[str, Any]) -> Any:
        api.check_params(resources, data, prices.PAGE_PARAMS)
        session = find_session(resources, session_id)
        url = f"/v1/checkout/sessions/{session.id}/line_items"
        return api.page(resources, [Exported(item) for item in session.line_items()], url, data, "item")

    def set_expiry(session_id: str, data: dict[str, Any]) -> CheckoutSession:
        session = find_session(resources, session_id)
        session.expires_at = api.as_int(resources, data.get("expires_at"), "expires_at")
        expire_if_due(resources, session)
        return session

    async def create(request: Any) -> Any:
        data = dict(await server.get_post_data(request) or {})
        expand = data.pop("expand", None)
        return server.json_response(create_session(resources, data, request.host)._export(expand))

    app.router.add_post("/v1/checkout/sessions", create)
    api.add_route("GET", "/v1/checkout/sessions", list_sessions)
    api.add_route("GET", "/v1/checkout/sessions/{id}", lambda session_id, data: find_session(resources, session_id))
    api.add_route("POST", "/v1/checkout/sessions/{id}/expire",
                     lambda session_id, data: expire(resources, find_session(resources, session_id)))  # fmt: skip
    api.add_route("GET", "/v1/checkout/sessions/{id}/line_items", line_items)
    api.add_route("POST", "/_config/checkout/sessions/{id}", set_expiry)
    _install_pages(resources, app)
    _install_settling(resources, app)


def _open_session(resources: Any, session_id: str) -> tuple[CheckoutSession | None, Any]:
    """The open session *session_id*, or ``None`` and the page to answer instead."""
    try:
        session = find_session(resources, session_id)
        if session.ui_mode != "hosted":  # embedded in the site's own page: there is no page here
            raise refuse(resources, "Not a hosted session.", status=404)
    except resources.UserError:
        page = hosted.message_page("Page not found", "This checkout link is not valid.")
        return None, hosted.html_response(page, 404)
    if session.status == "complete":
        done = str(session.success_url or "").replace("{CHECKOUT_SESSION_ID}", session.id)
        link = (done, "Continue") if done else None
        return None, hosted.html_response(hosted.message_page("You're all done", "This payment is complete.", link))
    if session.status == "expired":
        link = (session.cancel_url, "Return") if session.cancel_url else None
        text = "This checkout session has expired. Please start again from the site you came from."
        return None, hosted.html_response(hosted.message_page("Session expired", text, link), 410)
    return session, None


def _install_pages(resources: Any, app: Any) -> None:  # pragma: no cover - child process
    from aiohttp import web

    def show(session: CheckoutSession, status: int = 200, **messages: str | None) -> Any:
        return hosted.html_response(hosted.checkout_page(view(resources, session, **messages)), status)

    async def page(request: Any) -> Any:
        session, answer = _open_session(resources, request.match_info["id"])
        return answer if session is None else show(session)

    async def setup_intent(request: Any) -> Any:
        session, _ = _open_session(resources, request.match_info["id"])
        if session is None:
            return web.json_response({"error": {"message": "This checkout session is no longer active."}}, status=410)
        intent = setup_intent_of(resources, session)
        return web.json_response({"id": intent.id, "client_secret": intent.client_secret})

    async def pay(request: Any) -> Any:
        session, answer = _open_session(resources, request.match_info["id"])
        if session is None:
            return answer
        try:
            complete(resources, session, await hosted.form_of(request))
        except resources.UserError as error:
            return show(session, error.code, error=_message(error))
        return hosted.see_other(str(session.success_url).replace("{CHECKOUT_SESSION_ID}", session.id))

    async def promotion_code(request: Any) -> Any:
        session, answer = _open_session(resources, request.match_info["id"])
        if session is None:
            return answer
        form = await hosted.form_of(request)
        if not session.allow_promotion_codes or not (form.get("remove") or form.get("code", "").strip()):
            return show(session, 400, promotion_error="Enter a promotion code.")
        if form.get("remove"):
            session._discount = None
        else:
            found = find_promotion(resources, form["code"].strip())
            try:
                if found is None:
                    raise refuse(resources, "This code is invalid.", "code")
                session._discount = applied(resources, found, session.customer)
            except resources.UserError as error:
                return show(session, 400, promotion_error=_message(error))
        return hosted.see_other(f"/checkout/pay/{session.id}")

    app.router.add_get("/checkout/pay/{id}", page)
    app.router.add_post("/checkout/pay/{id}", pay)
    app.router.add_post("/checkout/pay/{id}/setup_intent", setup_intent)
    app.router.add_post("/checkout/pay/{id}/promotion_code", promotion_code)


def _install_settling(resources: Any, app: Any) -> None:  # pragma: no cover - child process
    intent_class = resources.PaymentIntent
    on_success, on_async_failure = intent_class._on_success, intent_class._report_async_failure

    def _on_success(self: Any) -> None:
        on_success(self)
        payment_settled(resources, self, True)

    def _report_async_failure(self: Any) -> None:
        on_async_failure(self)
        payment_settled(resources, self, False)

    intent_class._on_success, intent_class._report_async_failure = _on_success, _report_async_failure
    tasks: list[asyncio.Task[None]] = []

    async def expire_periodically() -> None:
        while True:
            await asyncio.sleep(1.0)
            for session in all_sessions(resources):
                expire_if_due(resources, session)

    async def on_startup(app: Any) -> None:
        tasks.append(asyncio.ensure_future(expire_periodically()))

    async def on_cleanup(app: Any) -> None:
        for task in tasks:
            task.cancel()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    from localstripe import server

    hosted.open_pages(server)
