"""The offline Stripe's Customer Portal (added to localstripe in the server process): the API of
:mod:`.portal_config` (configurations and sessions), and the page at each portal session's ``url``.

It shows the customer's subscriptions and default card (:func:`.hosted.portal_page`); its forms post here:
``/portal/<id>/subscriptions/<sub>/cancel`` (at the period's end, or at once when the configuration says
``immediately``), ``.../resume``, ``.../update`` (``price`` and/or ``quantity``), ``/portal/<id>/setup_intent``
(a SetupIntent for the offline Stripe.js) and ``/portal/<id>/payment_method`` (``setup_intent``: its card
becomes the default).  Each answers with a redirect to the portal, or a page saying what was wrong.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from . import api, hosted
from .common import find_price, product_name, refuse, store_key
from .portal_config import (
    NOTICES,
    PortalSession,
    configure,
    create_session,
    find_configuration,
    list_configurations,
)


def _session(resources: Any, session_id: str) -> PortalSession:
    session = resources.store.get(store_key(PortalSession.object, session_id))
    if not isinstance(session, PortalSession):
        raise refuse(resources, "This link to the billing portal is not valid.", status=404)
    return session


def _subscription(resources: Any, session: PortalSession, subscription_id: str) -> Any:
    """The session's customer's live subscription *subscription_id*, or a 404."""
    found = resources.store.get(store_key("subscription", subscription_id))
    if found is None or found.customer != session.customer or found.status in ("canceled", "incomplete_expired"):
        raise refuse(resources, "No such subscription.", "subscription", status=404)
    return found


def _label(resources: Any, price_id: str) -> str:
    price = find_price(resources, price_id)
    amount = hosted.money(price.unit_amount, price.currency)
    return f"{product_name(resources, price.product)} · {amount} {hosted.interval(price.recurring)}".strip()


def _subscription_view(resources: Any, subscription: Any, features: dict[str, Any]) -> dict[str, Any]:
    item = subscription.items._list[0]
    price = find_price(resources, item.plan.id)
    update = features["subscription_update"]
    listed = [entry for entry in update["products"] if entry["product"] == price.product]
    updatable = update["enabled"] and bool(listed)
    choices = [price_id for entry in update["products"] for price_id in entry["prices"]]
    switch = updatable and "price" in update["default_allowed_updates"] and len(set(choices) | {price.id}) > 1
    return {
        "id": subscription.id, "name": product_name(resources, price.product), "quantity": item.quantity,
        "amount": hosted.money(price.unit_amount * item.quantity, price.currency),
        "interval": hosted.interval(price.recurring), "status": subscription.status,
        "period_end": subscription.current_period_end, "cancel_at_period_end": subscription.cancel_at_period_end,
        "can_cancel": features["subscription_cancel"]["enabled"], "price": price.id,
        "prices": [(price_id, _label(resources, price_id)) for price_id in dict.fromkeys([price.id, *choices])]
        if switch else [],
        "can_change_quantity": updatable and "quantity" in update["default_allowed_updates"],
    }  # fmt: skip


def view(resources: Any, session: PortalSession, notice: str | None = None, error: str | None = None) -> dict[str, Any]:
    """What :func:`.hosted.portal_page` shows of *session*."""
    configuration = find_configuration(resources, session.configuration)
    customer = resources.Customer._api_retrieve(session.customer)
    live = resources.Subscription._api_list_all(None, customer=customer.id, limit=100)._list
    method = customer._get_default_payment_method_or_source()
    card = None
    if method is not None:
        details = method.card if isinstance(getattr(method, "card", None), dict) else vars(method)
        card = {key: details.get(key) for key in ("brand", "last4", "exp_month", "exp_year")}
        card["last4"] = card["last4"] or getattr(method, "last4", "")
    netloc = urllib.parse.urlsplit(session.return_url).netloc
    return {
        "id": session.id, "headline": configuration.business_profile.get("headline") or "",
        "email": customer.email or customer.id, "return_url": session.return_url,
        "return_label": f"Return to {netloc or 'the site'}", "notice": NOTICES.get(notice or ""), "error": error,
        "subscriptions": [_subscription_view(resources, sub, configuration.features) for sub in live],
        "card": card, "card_update": configuration.features["payment_method_update"]["enabled"],
    }  # fmt: skip


def change_card(resources: Any, session: PortalSession, form: dict[str, str]) -> None:
    """Make the card of the confirmed SetupIntent ``form["setup_intent"]`` the customer's default."""
    configuration = find_configuration(resources, session.configuration)
    if not configuration.features["payment_method_update"]["enabled"]:
        raise refuse(resources, "Payment methods cannot be changed here.", status=403)
    if form.get("setup_intent", "") not in session._setup_intents:
        raise refuse(resources, "Add your card details to continue.", "setup_intent")
    intent = resources.SetupIntent._api_retrieve(form["setup_intent"])
    if intent.status != "succeeded" or not intent.payment_method:
        raise refuse(resources, "Your card could not be confirmed. Please try again.", "setup_intent", status=402)
    method = resources.PaymentMethod._api_retrieve(intent.payment_method)
    if method.customer != session.customer:
        resources.PaymentMethod._api_attach(method.id, customer=session.customer)
        api.send_event(resources, "payment_method.attached", method)
    resources.Customer._api_update(session.customer, invoice_settings={"default_payment_method": method.id})
    for subscription in resources.Subscription._api_list_all(None, customer=session.customer, limit=100)._list:
        if getattr(subscription, "default_payment_method", None) not in (None, method.id):
            previous = {"default_payment_method": subscription.default_payment_method}
            subscription.default_payment_method = method.id
            api.send_event(resources, "customer.subscription.updated", subscription, previous)


def act(resources: Any, session: PortalSession, subscription_id: str, action: str, form: dict[str, str]) -> str:
    """Cancel, resume or update (``price``, ``quantity``) a subscription; the notice to show after."""
    subscription = _subscription(resources, session, subscription_id)
    features = find_configuration(resources, session.configuration).features
    if action == "cancel":
        if not features["subscription_cancel"]["enabled"] or subscription.cancel_at_period_end:
            raise refuse(resources, "This plan cannot be canceled here.", status=403)
        if features["subscription_cancel"]["mode"] == "immediately":
            resources.Subscription._api_delete(subscription.id)
        else:
            resources.Subscription._api_update(subscription.id, cancel_at_period_end=True)
        return "canceled"
    if action == "resume":
        if not subscription.cancel_at_period_end:
            raise refuse(resources, "This plan is not being canceled.")
        resources.Subscription._api_update(subscription.id, cancel_at_period_end=False)
        return "renewed"
    shown = _subscription_view(resources, subscription, features)
    item = subscription.items._list[0]
    price = form.get("price") or shown["price"]
    if price != shown["price"] and price not in dict(shown["prices"]):
        raise refuse(resources, "This plan is not available.", "price")
    quantity = api.as_int(resources, form.get("quantity", item.quantity), "quantity", minimum=1)
    if quantity != item.quantity and not shown["can_change_quantity"]:
        raise refuse(resources, "The quantity cannot be changed here.", "quantity")
    if (price, quantity) != (shown["price"], item.quantity):
        behavior = features["subscription_update"]["proration_behavior"]
        items = [{"id": item.id, "price": price, "quantity": quantity}]
        resources.Subscription._api_update(subscription.id, items=items, proration_behavior=behavior)
    return "updated"


def install(resources: Any, app: Any) -> None:  # pragma: no cover - child process
    """Serve the Customer Portal's API, page and forms on localstripe's aiohttp *app*."""
    from aiohttp import web
    from localstripe import server

    async def create(request: Any) -> Any:
        data = dict(await server.get_post_data(request) or {})
        expand = data.pop("expand", None)
        return server.json_response(create_session(resources, data, request.host)._export(expand))

    app.router.add_post("/v1/billing_portal/sessions", create)
    api.add_route("POST", "/v1/billing_portal/configurations", lambda data: configure(resources, data))
    api.add_route("GET", "/v1/billing_portal/configurations", lambda data: list_configurations(resources, data))
    api.add_route("GET", "/v1/billing_portal/configurations/{id}",
                  lambda config_id, data: find_configuration(resources, config_id))  # fmt: skip
    api.add_route(
        "POST",
        "/v1/billing_portal/configurations/{id}",
        lambda config_id, data: configure(resources, data, find_configuration(resources, config_id)),
    )
    hosted.open_pages(server)

    def problem(error: Any) -> Any:
        message = str(error.body.get("error", {}).get("message") or "Something went wrong.")
        title = "Page not found" if error.code == 404 else "That did not work"
        return hosted.html_response(hosted.message_page(title, message), error.code)

    async def page(request: Any) -> Any:
        try:
            session = _session(resources, request.match_info["id"])
            shown = view(resources, session, request.query.get("done"))
        except resources.UserError as error:
            return problem(error)
        return hosted.html_response(hosted.portal_page(shown))

    async def setup_intent(request: Any) -> Any:
        try:
            session = _session(resources, request.match_info["id"])
        except resources.UserError as error:
            return web.json_response(error.body, status=error.code)
        intent = resources.SetupIntent(customer=session.customer)
        session._setup_intents.append(intent.id)
        return web.json_response({"id": intent.id, "client_secret": intent.client_secret})

    async def payment_method(request: Any) -> Any:
        try:
            session = _session(resources, request.match_info["id"])
            change_card(resources, session, await hosted.form_of(request))
        except resources.UserError as error:
            return problem(error)
        return hosted.see_other(f"/portal/{session.id}?done=card")

    async def subscription(request: Any) -> Any:
        info = request.match_info
        try:
            session = _session(resources, info["id"])
            done = act(resources, session, info["subscription"], info["action"], await hosted.form_of(request))
        except resources.UserError as error:
            return problem(error)
        return hosted.see_other(f"/portal/{session.id}?done={done}")

    app.router.add_get("/portal/{id}", page)
    app.router.add_post("/portal/{id}/setup_intent", setup_intent)
    app.router.add_post("/portal/{id}/payment_method", payment_method)
    app.router.add_post("/portal/{id}/subscriptions/{subscription}/{action:cancel|resume|update}", subscription)
