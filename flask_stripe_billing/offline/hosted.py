"""The offline Stripe's hosted pages: the Checkout page at a Checkout Session's ``url`` and the Customer Portal
at a portal session's ``url``, rendered as small self-contained HTML (inline CSS, no external assets; the card
field is the offline Stripe.js, served by the same server).

Besides the HTML, the plumbing both pages share: responses, reading a form, and letting browsers reach the
pages without an API key (:func:`open_pages`).  The pages' own routes are in
:mod:`.checkout` and :mod:`.portal`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..config_keys import OFFLINE_PUBLISHABLE_KEY
from ..money import format_money

#: Where the hosted pages live: reached by browsers, so without the API key the rest of the server wants.
PUBLIC_PREFIXES = ("/checkout/pay/", "/portal/")

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:#30313d;background:#fff;-webkit-font-smoothing:antialiased}
a{color:#635bff;text-decoration:none}a:hover{text-decoration:underline}
.sb-split{display:grid;grid-template-columns:1fr 1fr;min-height:100vh}
.sb-summary{background:#f6f9fc;padding:64px 48px;display:flex;justify-content:flex-end}
.sb-form-side{padding:64px 48px}.sb-col{width:100%;max-width:380px}
.sb-back{display:inline-block;color:#6d6e78;margin-bottom:28px;font-size:14px}
.sb-kicker{color:#6d6e78;font-size:15px;margin:0}.sb-big{font-size:36px;font-weight:600;margin:4px 0 28px;
letter-spacing:-.02em}.sb-line{display:flex;justify-content:space-between;gap:16px;padding:10px 0}
.sb-line small{display:block;color:#6d6e78}.sb-rule{border-top:1px solid #e6e6e6;margin:8px 0}
.sb-total{font-weight:600}.sb-muted{color:#6d6e78}.sb-ok{color:#0e6245}
h1{font-size:22px;font-weight:600;margin:0 0 20px}h2{font-size:16px;font-weight:600;margin:0 0 12px}
label{display:block;font-size:13px;font-weight:500;color:#30313d;margin:0 0 6px}
input[type=email],input[type=text],input[type=number],select{width:100%;padding:10px 12px;font:inherit;
border:1px solid #e0e0e6;border-radius:6px;box-shadow:0 1px 1px rgba(0,0,0,.03)}
.sb-field{margin-bottom:18px}.sb-card{padding:8px 12px;border:1px solid #e0e0e6;border-radius:6px}
.sb-card{display:flex;gap:6px}.sb-card input{border:0;padding:4px 2px;font:inherit;width:2.6em;min-width:0;
outline:none}.sb-card span{display:none}.sb-card input[placeholder=number]{flex:1}
.sb-card input[placeholder=postal_code]{width:4.6em}
.sb-button{display:block;width:100%;padding:12px 16px;border:0;border-radius:6px;background:#635bff;
color:#fff;font:inherit;font-weight:600;cursor:pointer;white-space:nowrap;box-shadow:0 1px 2px rgba(0,0,0,.1)}
.sb-button:disabled{opacity:.6;cursor:default}.sb-button.sb-quiet{background:#fff;color:#30313d;
border:1px solid #e0e0e6;width:auto;display:inline-block;padding:8px 14px}
.sb-inline{display:flex;gap:8px;align-items:center}.sb-inline input{flex:1}.sb-inline .sb-button{width:auto}
.sb-error{color:#df1b41;font-size:14px;margin:8px 0 0}.sb-notice{background:#e3f8ee;color:#0e6245;
padding:10px 14px;border-radius:6px;margin-bottom:20px}
.sb-foot{margin-top:32px;color:#a3acb9;font-size:12px;text-align:center}
.sb-portal{max-width:720px;margin:0 auto;padding:48px 24px}.sb-panel{border:1px solid #e6e6e6;
border-radius:8px;padding:20px 24px;margin-bottom:20px}.sb-row{display:flex;justify-content:space-between;
align-items:center;gap:16px;flex-wrap:wrap}.sb-badge{display:inline-block;font-size:12px;font-weight:600;
padding:2px 8px;border-radius:10px;background:#e3f8ee;color:#0e6245}.sb-badge.sb-warn{background:#fcedb9;
color:#a82c00}.sb-actions{display:flex;gap:8px;flex-wrap:wrap;margin-top:14px}.sb-actions form{margin:0}
.sb-center{max-width:440px;margin:12vh auto;padding:0 24px;text-align:center}
@media(max-width:760px){.sb-split{grid-template-columns:1fr}.sb-summary,.sb-form-side{padding:32px 20px;
justify-content:flex-start}}
"""

#: The card forms of both pages: a SetupIntent from the page's server, confirmed through the offline Stripe.js
#: (which asks for 3-D Secure when the card needs it), then the form is posted with the SetupIntent's id.
CARD_FORM_JS = """
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-sb-card]");
  Array.prototype.forEach.call(forms, function (form) {
    var stripe = Stripe(form.getAttribute("data-key"));
    var card = stripe.elements().create("card");
    card.mount(form.querySelector(".sb-card"));
    var error = form.querySelector(".sb-error"), button = form.querySelector("button[type=submit]");
    function fail(message) {
      error.textContent = message || "Something went wrong. Please try again.";
      error.hidden = false;
      button.disabled = false;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      var email = form.querySelector("input[name=email]");
      fetch(form.getAttribute("data-intent"), { method: "POST" }).then(function (response) {
        return response.json();
      }).then(function (intent) {
        if (intent.error) { throw intent.error; }
        var details = email && email.value ? { email: email.value } : {};
        var method = { card: card, billing_details: details };
        return stripe.confirmCardSetup(intent.client_secret, { payment_method: method });
      }).then(function (result) {
        if (result.error) { fail(result.error.message); return; }
        form.querySelector("input[name=setup_intent]").value = result.setupIntent.id;
        form.submit();
      }, function (problem) { fail(problem && problem.message); });
    });
  });
})();
"""


def text(value: Any) -> str:
    """*value* escaped for HTML (``None`` as nothing)."""
    return "" if value is None else html.escape(str(value), quote=True)


def money(amount: int, currency: str) -> str:
    """An amount in minor units, shown as a customer reads it (``2000, "usd"`` → ``$20.00``)."""
    return format_money(amount, currency)


def interval(recurring: Mapping[str, Any] | None) -> str:
    """``"per month"``, ``"every 3 months"``, or nothing for a one-time price."""
    if not recurring:
        return ""
    unit, count = recurring.get("interval", "month"), int(recurring.get("interval_count") or 1)
    return f"per {unit}" if count == 1 else f"every {count} {unit}s"


def day(timestamp: int | None) -> str:
    """A date as the pages show it: ``3 January 2027``."""
    if not timestamp:
        return ""
    moment = time.gmtime(int(timestamp))
    return f"{moment.tm_mday} {time.strftime('%B %Y', moment)}"


def document(title: str, body: str, *, cards: bool = False) -> str:
    """A whole page: *body* in the pages' style, with the offline Stripe.js and the card form script if
    *cards*."""
    scripts = f'<script src="/js.stripe.com/v3/"></script><script>{CARD_FORM_JS}</script>' if cards else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{text(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{CSS}</style></head><body>{body}{scripts}</body></html>"
    )


def message_page(title: str, message: str, link: tuple[str, str] | None = None) -> str:
    """A page that only says something: an expired or finished session, an unknown link, a refused form."""
    back = f'<p><a class="sb-button sb-quiet" href="{text(link[0])}">{text(link[1])}</a></p>' if link else ""
    return document(
        title, f'<main class="sb-center"><h1>{text(title)}</h1><p class="sb-muted">{text(message)}</p>{back}</main>'
    )


def card_form(action: str, intent_url: str, button: str, error: str | None = None, extra: str = "") -> str:
    """A form with the offline card field, posted with ``setup_intent`` once the card is confirmed."""
    shown = "" if error else " hidden"
    return (
        f'<form method="post" action="{text(action)}" data-sb-card data-key="{OFFLINE_PUBLISHABLE_KEY}" '
        f'data-intent="{text(intent_url)}">{extra}<input type="hidden" name="setup_intent" value="">'
        '<div class="sb-field"><label>Card information</label><div class="sb-card"></div>'
        f'<p class="sb-error" role="alert"{shown}>{text(error)}</p></div>'
        f'<button class="sb-button" type="submit">{text(button)}</button></form>'
    )


def _line(label: str, amount: str, *, kind: str = "", rule: bool = False) -> str:
    """A line of the Checkout page's totals."""
    above = '<div class="sb-rule"></div>' if rule else ""
    return f'{above}<div class="sb-line {kind}"><span>{text(label)}</span><span>{text(amount)}</span></div>'


def checkout_page(view: Mapping[str, Any]) -> str:
    """The Checkout page of an open session.  *view* (made by :mod:`.checkout`): ``id``, ``mode``, ``lines``
    (``name``, ``quantity``, ``amount``, ``interval``), ``subtotal``, ``discount``, ``total``, ``headline``,
    ``trial``, ``cancel_url``, ``email``, ``email_locked``, ``promotion`` (``None`` when codes are not allowed,
    else the applied code or ``""``), ``promotion_error``, ``error``, ``button``."""
    base = f"/checkout/pay/{view['id']}"
    lines = "".join(
        f'<div class="sb-line"><span>{text(line["name"])}<small>Qty {line["quantity"]}'
        f"{' · ' + text(line['interval']) if line['interval'] else ''}</small></span>"
        f"<span>{text(line['amount'])}</span></div>"
        for line in view["lines"]
    )
    totals = ""
    if view["lines"]:
        totals = _line("Subtotal", view["subtotal"], rule=True)
        if view["discount"]:
            totals += _line("Discount", "-" + view["discount"], kind="sb-ok")
        if view["trial"]:
            totals += _line(view["trial"], "")
        totals += _line("Total due today", view["total"], kind="sb-total", rule=True)
    promotion = ""
    if view["promotion"] is not None:
        if view["promotion"]:
            inner = (
                f'<span class="sb-ok">{text(view["promotion"])} applied</span>'
                '<input type="hidden" name="remove" value="1"><button class="sb-button sb-quiet">Remove</button>'
            )
        else:
            inner = (
                '<input type="text" name="code" placeholder="Add promotion code" aria-label="Promotion code">'
                '<button class="sb-button sb-quiet">Apply</button>'
            )
        error = (
            f'<p class="sb-error" role="alert">{text(view["promotion_error"])}</p>' if view["promotion_error"] else ""
        )
        promotion = (
            f'<form method="post" action="{base}/promotion_code" class="sb-field">'
            f'<div class="sb-inline">{inner}</div>{error}</form>'
        )
    back = f'<a class="sb-back" href="{text(view["cancel_url"])}">← Back</a>' if view["cancel_url"] else ""
    locked = " readonly" if view["email_locked"] else ""
    email = (
        '<div class="sb-field"><label for="sb-email">Email</label>'
        f'<input id="sb-email" type="email" name="email" value="{text(view["email"])}" required{locked}></div>'
    )
    summary = (
        f'<section class="sb-summary"><div class="sb-col">{back}<p class="sb-kicker">{text(view["headline"])}</p>'
        f'<p class="sb-big">{text(view["total"])}</p>{lines}{totals}</div></section>'
    )
    form = card_form(base, f"{base}/setup_intent", view["button"], view["error"], email)
    heading = "Set up your card" if view["mode"] == "setup" else "Pay with card"
    side = (
        f'<section class="sb-form-side"><div class="sb-col">{promotion}<h1>{heading}</h1>{form}'
        '<p class="sb-foot">Offline Stripe · test mode, no real money moves</p></div></section>'
    )
    return document(view["headline"] or "Checkout", f'<main class="sb-split">{summary}{side}</main>', cards=True)


def _portal_subscription(base: str, sub: Mapping[str, Any]) -> str:
    badge = (
        '<span class="sb-badge sb-warn">Cancels</span>'
        if sub["cancel_at_period_end"]
        else (f'<span class="sb-badge">{text(str(sub["status"]).replace("_", " ").capitalize())}</span>')
    )
    when = (
        f"Your plan will be canceled on {day(sub['period_end'])}."
        if sub["cancel_at_period_end"]
        else f"Renews on {day(sub['period_end'])}."
        if sub["period_end"]
        else ""
    )
    action = f"{base}/subscriptions/{text(sub['id'])}"
    actions = []
    button = '<form method="post" action="{}"><button class="sb-button sb-quiet">{}</button></form>'
    if sub["cancel_at_period_end"]:
        actions.append(button.format(f"{action}/resume", "Renew plan"))
    elif sub["can_cancel"]:
        actions.append(button.format(f"{action}/cancel", "Cancel plan"))
    if sub["prices"]:
        options = "".join(
            f'<option value="{text(value)}"{" selected" if value == sub["price"] else ""}>{text(label)}</option>'
            for value, label in sub["prices"]
        )
        actions.append(
            f'<form method="post" action="{action}/update" class="sb-inline"><select name="price" '
            f'aria-label="Plan">{options}</select><button class="sb-button sb-quiet">Update plan</button></form>'
        )
    if sub["can_change_quantity"]:
        actions.append(
            f'<form method="post" action="{action}/update" class="sb-inline"><input type="number" '
            f'name="quantity" min="1" value="{sub["quantity"]}" aria-label="Quantity" style="width:90px">'
            '<button class="sb-button sb-quiet">Update quantity</button></form>'
        )
    return (
        f'<div class="sb-panel"><div class="sb-row"><div><h2>{text(sub["name"])} {badge}</h2>'
        f'<div>{text(sub["amount"])} <span class="sb-muted">{text(sub["interval"])} · '
        f"Qty {sub['quantity']}</span></div>"
        f'<div class="sb-muted">{text(when)}</div></div></div><div class="sb-actions">{"".join(actions)}</div></div>'
    )


def portal_page(view: Mapping[str, Any]) -> str:
    """The Customer Portal.  *view* (made by :mod:`.portal`): ``id``, ``headline``, ``email``, ``return_url``,
    ``return_label``, ``notice``, ``error``, ``subscriptions`` (``id``, ``name``, ``amount``, ``interval``,
    ``quantity``, ``status``, ``period_end``, ``cancel_at_period_end``, ``can_cancel``, ``price``, ``prices``
    ((id, label) pairs to switch to, empty when not allowed), ``can_change_quantity``), ``card`` (``brand``,
    ``last4``, ``exp_month``, ``exp_year``, or ``None``) and ``card_update`` (whether the card may change)."""
    base = f"/portal/{view['id']}"
    notice = f'<div class="sb-notice" role="status">{text(view["notice"])}</div>' if view["notice"] else ""
    error = f'<p class="sb-error" role="alert">{text(view["error"])}</p>' if view["error"] else ""
    subscriptions: Iterable[Mapping[str, Any]] = view["subscriptions"]
    plans = "".join(_portal_subscription(base, sub) for sub in subscriptions) or (
        '<div class="sb-panel sb-muted">You have no subscriptions.</div>'
    )
    card = view["card"]
    shown = (
        f"{text(str(card['brand']).capitalize())} •••• {text(card['last4'])} "
        f'<span class="sb-muted">Expires {int(card["exp_month"]):02d}/{card["exp_year"]}</span>'
        if card
        else '<span class="sb-muted">No card on file.</span>'
    )
    update = card_form(f"{base}/payment_method", f"{base}/setup_intent", "Save card") if view["card_update"] else ""
    body = (
        f'<main class="sb-portal"><a class="sb-back" href="{text(view["return_url"])}">'
        f"← {text(view['return_label'])}</a>"
        f'<p class="sb-kicker">{text(view["headline"])}</p><h1>Billing for {text(view["email"])}</h1>{notice}{error}'
        f"<h2>Current subscriptions</h2>{plans}"
        f'<h2>Payment method</h2><div class="sb-panel"><p>{shown}</p>{update}</div>'
        '<p class="sb-foot">Offline Stripe · test mode, no real money moves</p></main>'
    )
    return document("Billing", body, cards=bool(view["card_update"]))


def html_response(page: str, status: int = 200) -> Any:  # pragma: no cover - child process
    """An aiohttp response with *page*."""
    from aiohttp import web

    return web.Response(text=page, status=status, content_type="text/html")


def see_other(location: str) -> Any:  # pragma: no cover - child process
    """A 303 redirect to *location*, as a form post ends."""
    from aiohttp import web

    return web.Response(status=303, headers={"Location": location})


async def form_of(request: Any) -> dict[str, str]:  # pragma: no cover - child process
    """A posted form (url-encoded or multipart) as single string values."""
    posted = await request.post()
    return {key: value for key, value in posted.items() if isinstance(value, str)}


def open_pages(server: Any) -> None:  # pragma: no cover - child process
    """Let requests to :data:`PUBLIC_PREFIXES` past localstripe's API key check (once, however often it is
    called)."""
    from aiohttp import web

    auth = server.auth_middleware
    if auth not in server.app.middlewares:
        return

    @web.middleware
    async def auth_unless_hosted_page(request: Any, handler: Any) -> Any:
        if request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        return await auth(request, handler)

    server.app.middlewares[server.app.middlewares.index(auth)] = auth_unless_hosted_page
