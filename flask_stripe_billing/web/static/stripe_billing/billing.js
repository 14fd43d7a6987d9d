/* The billing pages' script: the card form (SetupIntent or token), the coupon check, the payment confirmation.
 *
 * Configured by data- attributes on the forms (no inline script, nothing secret: only the publishable key
 * and a PaymentIntent's client secret, which Stripe.js is designed to receive).  Errors are shown next to the
 * card field, in the customer-facing wording Stripe.js gives.
 */
(function () {
  "use strict";

  var GENERIC_ERROR = "The payment service could not complete the request. Please try again.";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw data; }
        return data;
      });
    });
  }

  function showError(element, message) {
    if (!element) { return; }
    element.textContent = message || "";
    element.hidden = !message;
  }

  function messageOf(error) {
    if (!error) { return GENERIC_ERROR; }
    if (typeof error === "string") { return error; }
    return error.message || error.stripe_error || error.error || GENERIC_ERROR;
  }

  function busy(form, on) {
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = on; }
    form.classList.toggle("sb-busy", on);
  }

  function setupCardForm(form) {
    var stripe = Stripe(form.getAttribute("data-stripe-key"));
    var card = stripe.elements().create("card", { hidePostalCode: true });
    var errors = document.getElementById("sb-card-errors");
    card.mount("#sb-card-element");
    card.on("change", function (event) {
      if (event && event.error) { showError(errors, event.error.message); }
      else if (event) { showError(errors, ""); }
    });

    function finish(field, value) {
      form.querySelector('input[name="' + field + '"]').value = value;
      form.submit();  // the server saves the card and answers with the next page
    }

    function fail(error) {
      showError(errors, messageOf(error));
      busy(form, false);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(form, true);
      showError(errors, "");
      if (form.getAttribute("data-flow") === "token") {
        stripe.createToken(card).then(function (result) {
          if (result.error) { fail(result.error); } else { finish("token", result.token.id); }
        }, fail);
        return;
      }
      postJSON(form.getAttribute("data-setup-intent-url"), {}).then(function (intent) {
        return stripe.confirmCardSetup(intent.client_secret, { payment_method: { card: card } });
      }).then(function (result) {
        if (result.error) { fail(result.error); return; }
        var method = result.setupIntent.payment_method;
        finish("payment_method", typeof method === "string" ? method : method.id);
      }, fail);
    });
  }

  function describeCoupon(coupon) {
    var off;
    if (coupon.percent_off) {
      off = Number(coupon.percent_off) + "% off";
    } else if (coupon.amount_off) {
      var currency = (coupon.currency || "").toUpperCase();
      off = (coupon.amount_off / 100).toFixed(2) + " " + currency + " off";
    } else {
      off = "Discount";
    }
    var duration = coupon.duration === "forever" ? " for as long as you subscribe"
      : coupon.duration === "repeating" && coupon.duration_in_months ? " for " + coupon.duration_in_months + " months"
      : coupon.duration === "once" ? " on the first payment" : "";
    return (coupon.name ? coupon.name + ": " : "") + off + duration + ".";
  }

  function setupCouponCheck(box) {
    var url = box.getAttribute("data-check-url");
    var input = box.querySelector("input[name=coupon]");
    var button = box.querySelector("[data-sb-coupon-check]");
    var result = box.querySelector("[data-sb-coupon-result]");
    if (!url || !input || !button || !result) { return; }

    function show(text, ok) {
      result.textContent = text;
      result.hidden = !text;
      result.classList.toggle("sb-ok", ok === true);
      result.classList.toggle("sb-field-error", ok === false);
    }

    function check() {
      var code = input.value.trim();
      if (!code) { show("", null); return; }
      fetch(url.replace("__CODE__", encodeURIComponent(code)), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (response.status === 404) { show("This coupon code is not valid.", false); return null; }
        if (!response.ok) { show("The coupon could not be checked now; it will be checked when you subscribe.", null); return null; }
        return response.json();
      }).then(function (coupon) {
        if (!coupon) { return; }
        if (coupon.valid === false) { show("This coupon code has expired.", false); }
        else { show(describeCoupon(coupon), true); }
      }, function () { show("The coupon could not be checked now; it will be checked when you subscribe.", null); });
    }

    button.addEventListener("click", check);
    input.addEventListener("change", check);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); check(); }
    });
  }

  function setupConfirmPayment(form) {
    var stripe = Stripe(form.getAttribute("data-stripe-key"));
    var errors = document.getElementById("sb-card-errors");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(form, true);
      showError(errors, "");
      stripe.confirmCardPayment(form.getAttribute("data-client-secret")).then(function (result) {
        if (result.error) { showError(errors, messageOf(result.error)); }
        // Whatever the browser saw, the server re-reads the payment from Stripe and shows the outcome.
        form.submit();
      }, function (error) {
        showError(errors, messageOf(error));
        busy(form, false);
      });
    });
  }

  var cardForm = document.querySelector("[data-sb-card-form]");
  if (cardForm) { setupCardForm(cardForm); }
  var coupon = document.querySelector("[data-sb-coupon]");
  if (coupon) { setupCouponCheck(coupon); }
  var confirmForm = document.querySelector("[data-sb-confirm-payment]");
  if (confirmForm) { setupConfirmPayment(confirmForm); }
})();
