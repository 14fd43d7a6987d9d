"""The offline Stripe's card input: what people type into the offline card fields (patched into localstripe in
the server process).

localstripe takes a card only as exactly 16 digits, a 3-digit CVC and a year Stripe.js has already expanded, and
answers anything else with a bare "Bad request".  Here a card is read as Stripe reads what people type: spaces
and dashes in the number are ignored, the year may have 2 or 4 digits (the offline Stripe.js puts "20" before
what was typed, so "2034" arrives as "202034" and is read as 2034), and a card that is still wrong is refused
with Stripe's own error: HTTP 402, ``type`` ``card_error``, a ``code`` such as ``incorrect_number`` and the
message Stripe shows customers.

The offline Stripe.js (localstripe's card fields) also moves the cursor to the next field after 16 characters
of number or 2 of year, which cuts "4242 4242 4242 4242" and "2034" short as they are typed: the script in
:data:`CARD_FIELDS_JS`, served after it, moves on after 16 digits and after a 2-digit year not starting with
"20" or a 4-digit one, and sends the year as typed.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

#: Stripe's ``code``, ``param`` and customer-facing message for each way a typed card is wrong.
CARD_ERRORS = {
    "incorrect_number": ("number", "Your card number is incorrect."),
    "invalid_number": ("number", "Your card number is invalid."),
    "invalid_expiry_month": ("exp_month", "Your card's expiration month is invalid."),
    "invalid_expiry_year": ("exp_year", "Your card's expiration year is invalid."),
    "invalid_cvc": ("cvc", "Your card's security code is invalid."),
}

_SEPARATORS = re.compile(r"[\s-]+")

#: Served after the offline Stripe.js (``/js.stripe.com/v3/``): the card fields move on as people type.
CARD_FIELDS_JS = """
/* flask-stripe-billing: the offline card fields take what people type. */
(function () {
  "use strict";
  if (typeof Element !== "function" || !Element.prototype.mount) { return; }
  var mount = Element.prototype.mount;
  function digits(text) { return text.replace(/[\\s-]/g, ""); }
  var next = {
    number: function (v) { return digits(v).length >= 16 ? "exp_month" : null; },
    exp_month: function (v) { return digits(v).length >= 2 || parseInt(v, 10) > 1 ? "exp_year" : null; },
    exp_year: function (v) {
      var year = digits(v);
      return year.length >= 4 || (year.length === 2 && year !== "20") ? "cvc" : null;
    },
    cvc: function (v) { return digits(v).length >= 3 ? "postal_code" : null; }
  };
  Element.prototype.mount = function (domElement) {
    mount.call(this, domElement);
    var element = this, inputs = this._inputs;
    if (!inputs || inputs.number.sbTyped) { return; }
    inputs.number.sbTyped = true;
    var changed = inputs.number.oninput;
    Object.keys(inputs).forEach(function (field) {
      inputs[field].oninput = function () {
        changed({ target: null });  /* the value and change listeners, without the early jumps */
        element.value.card.exp_year = inputs.exp_year.value.trim();  /* 2 or 4 digits: the server reads both */
        var to = next[field] && next[field](inputs[field].value);
        if (to) { inputs[to].focus(); }
      };
    });
  };
})();
"""


class CardError(Exception):
    """A typed card Stripe would refuse: *code* is one of :data:`CARD_ERRORS`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.param, self.message = CARD_ERRORS[code]


def luhn_valid(digits: str) -> bool:
    """Whether *digits* pass the Luhn checksum every card number carries."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def normalize_number(value: Any) -> str:
    """The card number as 16 digits, or :class:`CardError` (localstripe knows only 16-digit cards)."""
    number = _SEPARATORS.sub("", _text(value))
    if not number.isdigit():
        raise CardError("invalid_number")
    if len(number) != 16 or not luhn_valid(number):
        raise CardError("incorrect_number")
    return number


def normalize_month(value: Any) -> int:
    """The expiry month, 1 to 12, or :class:`CardError`."""
    month = _text(value)
    if not month.isdigit() or not 1 <= int(month) <= 12:
        raise CardError("invalid_expiry_month")
    return int(month)


def normalize_year(value: Any) -> int:
    """The expiry year from 2 or 4 digits (or "20" and 4 digits, from the offline Stripe.js), or
    :class:`CardError`."""
    year = _text(value)
    if len(year) == 6 and year.startswith("20"):
        year = year[2:]
    if not year.isdigit() or len(year) not in (2, 4):
        raise CardError("invalid_expiry_year")
    number = int(year) + (2000 if len(year) == 2 else 0)
    if not 2000 <= number < 2100:
        raise CardError("invalid_expiry_year")
    return number


def normalize_card(card: dict[str, Any], today: datetime.date | None = None) -> None:
    """Rewrite *card*'s ``number``, ``exp_month``, ``exp_year`` and ``cvc`` in place as localstripe takes
    them, or raise :class:`CardError` for the first one Stripe would refuse."""
    card["number"] = normalize_number(card.get("number"))
    month = normalize_month(card.get("exp_month"))
    year = normalize_year(card.get("exp_year"))
    today = today or datetime.datetime.now(datetime.UTC).date()
    if year < today.year:
        raise CardError("invalid_expiry_year")
    if (year, month) < (today.year, today.month):
        raise CardError("invalid_expiry_month")
    card["exp_month"], card["exp_year"] = month, year
    cvc = _text(card.get("cvc"))
    if not (cvc.isdigit() and len(cvc) == 3):
        raise CardError("invalid_cvc")
    card["cvc"] = cvc


def _as_stripe_error(resources: Any, error: CardError) -> Exception:  # pragma: no cover - child process
    """localstripe's UserError carrying Stripe's card error (its constructor always says invalid_request_error)."""
    user_error = resources.UserError(402, error.message, {"code": error.code, "param": error.param})
    user_error.body["error"]["type"] = "card_error"
    return user_error  # type: ignore[no-any-return]


def install(resources: Any) -> None:  # pragma: no cover - runs in the child process
    """Patch localstripe's *resources* module: tokens and sources (``Card``) and payment methods
    (``PaymentMethod``, also made by a SetupIntent's confirmation) read cards as :func:`normalize_card` does."""
    card_class = resources.Card
    card_init = card_class.__init__

    def card_init_typed(self: Any, source: Any = None, **kwargs: Any) -> None:
        if isinstance(source, dict) and source.get("object") == "card":
            try:
                normalize_card(source)
            except CardError as error:
                raise _as_stripe_error(resources, error) from None
        card_init(self, source, **kwargs)

    card_class.__init__ = card_init_typed

    method_class = resources.PaymentMethod
    method_init = method_class.__init__

    def method_init_typed(self: Any, *args: Any, **kwargs: Any) -> None:
        card = kwargs.get("card")
        if kwargs.get("type", args[0] if args else None) == "card" and isinstance(card, dict):
            try:
                normalize_card(card)
            except CardError as error:
                raise _as_stripe_error(resources, error) from None
        method_init(self, *args, **kwargs)

    method_class.__init__ = method_init_typed
    _serve_card_fields_js()


def _serve_card_fields_js() -> None:  # pragma: no cover - runs in the child process
    """Append :data:`CARD_FIELDS_JS` to the offline Stripe.js localstripe serves."""
    from aiohttp import web
    from localstripe import server

    @web.middleware
    async def typed_card_fields(request: Any, handler: Any) -> Any:
        response = await handler(request)
        if request.path == "/js.stripe.com/v3/" and isinstance(response, web.Response) and response.text:
            response.text = response.text + CARD_FIELDS_JS
        return response

    server.app.middlewares.append(typed_card_fields)
