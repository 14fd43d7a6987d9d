"""The example SaaS's own pages: sign-up, log-in, a premium area, a one-off purchase, and an admin page.

Everything about money is the extension's: its pages (``/billing/...``) take cards, sell plans, collect
payments and show the billing account; this module only links to them.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from flask_stripe_billing.gate import subscription_required
from flask_stripe_billing.models import ChargeStatus, StripeCharge, StripeSubscriptionPlan, StripeWebhook
from flask_stripe_billing.views.common import is_local_path

from .models import User, db

site = Blueprint("site", __name__)

#: The one-off product sold on the shop page: a price in cents, never a float.
REPORT = {"amount": 4900, "currency": "usd", "description": "Market report 2026 (PDF)", "source_id": "report-2026"}


def admin_required(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@site.get("/")
def home() -> str:
    plans = db.session.scalars(sa.select(StripeSubscriptionPlan).order_by(StripeSubscriptionPlan.amount)).all()
    return render_template("home.html", plans=plans)


@site.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response:
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
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
            return redirect(url_for("stripe_billing.plans"))
    return render_template("signup.html")


@site.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None and user.check_password(request.form.get("password", "")):
            login_user(user)
            target = request.args.get("next", "")
            # Only local paths: an open redirect would let a phishing link bounce through our log-in.
            return redirect(target if is_local_path(target) else url_for("site.home"))
        flash("Wrong e-mail address or password.", "error")
    return render_template("login.html")


@site.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("site.home"))


@site.get("/premium")
@subscription_required
def premium() -> str:
    return render_template("premium.html")


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
    return render_template("admin.html", webhooks=webhooks, failed=failed, pending=pending)
