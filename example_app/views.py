"""The example SaaS's own pages: sign-up, log-in, a premium area, a one-off purchase, an admin page, and the
site's error pages.

Everything about money is the extension's: its pages (``/billing/...``) take cards, sell plans, collect
payments and show the billing account; this module only links to them, and shows amounts and times with the
extension's formatting (``billing_money``, :func:`~flask_stripe_billing.web.pages.formatting.utc_time`).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from flask_stripe_billing import subscription_required
from flask_stripe_billing.models import (
    ChargeStatus,
    StripeCharge,
    StripeSubscription,
    StripeSubscriptionPlan,
    StripeWebhook,
)
from flask_stripe_billing.web.pages.common import is_local_path
from flask_stripe_billing.web.pages.formatting import utc_time

from .models import User, db
from .seed import welcome_coupon

site = Blueprint("site", __name__)

#: The site's name: the brand in the header and the end of every page title.
SITE_NAME = "Acme Analytics"

#: The one-off product sold on the shop page: a price in cents, never a float.
REPORT = {"amount": 4900, "currency": "usd", "description": "Market report 2026 (PDF)", "source_id": "report-2026"}

#: The site's icon, inline in every page (no request) and at ``/favicon.ico`` for browsers that ask anyway.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#4b48d6"/>'
    '<path d="M8 23V15M14 23V9M20 23v-6M26 23V12" stroke="#fff" stroke-width="3.2" stroke-linecap="round"/></svg>'
)

#: The error pages: a heading and a sentence for the customer, by HTTP status.
ERROR_PAGES = {
    400: ("Something went wrong", "The page could not handle that request. Go back and try again."),
    403: ("Access denied", "Your account cannot open this page. If you think it should, contact us."),
    404: ("Page not found", "There is no page at this address. It may have moved, or the link may be mistyped."),
    405: ("Something went wrong", "This page cannot be opened that way. Go back and try again."),
    500: ("Something went wrong on our side", "We could not show this page. Please try again in a few minutes."),
}

#: What a form refused for its expired or missing security token says.
CSRF_PAGE = (
    "Please try again",
    "This form was open too long or came from elsewhere. Reload the page and send it again.",
)


@site.app_context_processor
def site_context() -> dict[str, Any]:
    """What every template of the site may use: its name and icon."""
    return {"site_name": SITE_NAME, "favicon_svg": FAVICON_SVG}


site.add_app_template_filter(utc_time, "utc_time")


@site.app_errorhandler(HTTPException)
def error_page(error: HTTPException) -> Any:
    """The site's page for an HTTP error, in its layout; a caller asking for JSON gets the error as it was."""
    if request.is_json or request.accept_mimetypes.best == "application/json" or error.code is None:
        return error
    if error.code not in ERROR_PAGES:
        return error  # 401 and the other rarer statuses: the extension and Flask-Login answer them
    heading, text = CSRF_PAGE if isinstance(error, CSRFError) else ERROR_PAGES[error.code]
    return render_template("error.html", heading=heading, text=text, code=error.code), error.code


@site.app_errorhandler(InternalServerError)
def server_error_page(error: InternalServerError) -> Any:
    """The site's page for an unexpected error: the failed request's transaction is rolled back first."""
    db.session.rollback()
    return error_page(error)


def admin_required(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@site.get("/favicon.ico")
def favicon() -> Response:
    return Response(FAVICON_SVG, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@site.get("/")
def home() -> str:
    plans = db.session.scalars(sa.select(StripeSubscriptionPlan).order_by(StripeSubscriptionPlan.amount)).all()
    return render_template("home.html", plans=plans, coupon=welcome_coupon())


@site.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int]:
    email = request.form.get("email", "").strip().lower()
    if request.method == "POST":
        password = request.form.get("password", "")
        if "@" not in email or len(password) < 8:
            flash("Enter an e-mail address and a password of at least 8 characters.", "error")
        elif db.session.scalar(sa.select(User).where(User.email == email)) is not None:
            flash("An account with this e-mail address exists; log in instead.", "error")
        else:
            user = User(email=email)
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            login_user(user)
            flash(f"Welcome to {SITE_NAME}! Choose a plan to open your dashboard.", "success")
            return redirect(url_for("stripe_billing.plans"))
        return render_template("signup.html", email=email), 400
    return render_template("signup.html", email=email)


@site.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    email = request.form.get("email", "").strip().lower()
    if request.method == "POST":
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None and user.check_password(request.form.get("password", "")):
            login_user(user)
            target = request.args.get("next", "")
            # Only local paths: an open redirect would let a phishing link bounce through our log-in.
            return redirect(target if is_local_path(target) else url_for("site.home"))
        flash("Wrong e-mail address or password.", "error")
        return render_template("login.html", email=email), 400
    return render_template("login.html", email=email)


@site.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("site.home"))


@site.get("/premium")
@subscription_required
def premium() -> str:
    return render_template("premium.html", subscription=current_user.subscription())


@site.route("/shop", methods=["GET", "POST"])
@login_required
def shop() -> str | Response:
    if request.method == "POST":
        charge = StripeCharge(
            subscriber=current_user,
            amount=REPORT["amount"],
            currency=REPORT["currency"],
            description=REPORT["description"],
            source_type="report",
            source_id=REPORT["source_id"],
            # Paid by the customer on the payment page, not by ``flask stripe charge``.
            is_manual_charge=True,
        )
        db.session.add(charge)
        db.session.commit()
        return redirect(url_for("stripe_billing.pay_charge", charge_id=charge.id))
    return render_template("shop.html", report=REPORT)


@site.get("/admin")
@admin_required
def admin() -> str:
    webhooks = db.session.scalars(sa.select(StripeWebhook).order_by(StripeWebhook.received_at.desc()).limit(25)).all()
    failed = db.session.scalars(
        sa.select(StripeCharge).where(StripeCharge.status == ChargeStatus.FAILED).order_by(StripeCharge.id.desc())
    ).all()
    pending = db.session.scalars(
        sa.select(StripeCharge)
        .where(
            StripeCharge.status.in_(
                [ChargeStatus.PENDING, ChargeStatus.IN_FLIGHT, ChargeStatus.UNKNOWN, ChargeStatus.REQUIRES_ACTION]
            )
        )
        .order_by(StripeCharge.id.desc())
    ).all()
    return render_template(
        "admin.html", webhooks=webhooks, failed=failed, pending=pending, subscriptions=all_subscriptions()
    )


def all_subscriptions() -> list[tuple[StripeSubscription, str | None]]:
    """Every subscription, whatever its status (incomplete and ended ones too), newest first, with its
    subscriber's e-mail address."""
    rows = db.session.execute(
        sa.select(StripeSubscription, User.email)
        .outerjoin(User, User.id == StripeSubscription.subscriber_id)
        .order_by(StripeSubscription.id.desc())
    )
    return [(subscription, email) for subscription, email in rows]
