"""``StripeBilling``, the extension object."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
import stripe
from flask import Blueprint, Flask
from flask.cli import FlaskGroup

from . import charges, checkout, coupons, customers, plans, subscriptions
from .cli import stripe_cli
from .config import BillingConfig, apply_defaults, import_string_or_callable, load_config, warn_unknown_keys
from .core.client import StripeGateway
from .core.state import EXTENSION_KEY, BillingState, get_state
from .errors import ConfigurationError
from .models.base import attach_to_host
from .models.charge import CHARGE_VERBS, ChargeVerbs
from .models.coupon import COUPON_VERBS, CouponVerbs
from .models.customer import CUSTOMER_VERBS, CustomerVerbs
from .models.keys import stored_key_factory
from .models.plan import PLAN_VERBS, PlanVerbs
from .models.subscription import SUBSCRIPTION_VERBS, SubscriptionVerbs
from .web.blueprint import create_blueprint
from .web.gate import require_subscription
from .web.webhook import add_webhook_route

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .checkout import CheckoutSession
    from .checkout.sessions import PlanOrPrice


class StripeBilling:
    """Take money through Stripe in a Flask application.

    .. code-block:: python

        db = SQLAlchemy()
        billing = StripeBilling()

        def create_app():
            app = Flask(__name__)
            app.config.from_prefixed_env()
            db.init_app(app)
            billing.init_app(app, db=db, subscriber_model=User)
            return app

    :param app: initialise this application at once (otherwise call :meth:`init_app`).
    :param db: the host's Flask-SQLAlchemy object; the extension's tables live in its database.
    :param subscriber_model: who is billed — a user model, or an organization; it must have an ``email``.
        ``STRIPE_SUBSCRIBER_MODEL`` (a class or an import string) takes precedence when set.
    :param register_blueprint: register the ``stripe_billing`` blueprint at ``STRIPE_URL_PREFIX``.
    :param http_client: a ``stripe.HTTPClient`` for every request (a proxy, instrumentation, tests).

    Arguments given here are defaults for every :meth:`init_app` call; arguments given to :meth:`init_app` win.
    The object keeps no application: everything is stored per application in
    ``app.extensions["stripe_billing"]``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        subscriber_model: type[Any] | None = None,
        register_blueprint: bool = True,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._db = db
        self._subscriber_model = subscriber_model
        self._register_blueprint = register_blueprint
        self._http_client = http_client
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        db: SQLAlchemy | None = None,
        subscriber_model: type[Any] | None = None,
        register_blueprint: bool | None = None,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        """Configure *app*: validate the configuration, add the models to its database, register the
        blueprint and the ``flask stripe`` commands.

        :raises RuntimeError: if the extension is already registered on *app*.
        :raises ~flask_stripe_billing.errors.ConfigurationError: naming the key that is missing or malformed.
            When the ``flask`` command loads *app* only to find its commands (``flask --help``,
            ``flask stripe ...``, ``flask db upgrade``), a refused Stripe setting is kept instead: the commands
            are listed, and whatever uses the extension raises the error then (each ``flask stripe`` command
            exits with it in one line).  ``flask run``, ``flask shell``, WSGI servers and workers still raise it
            here.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "flask-stripe-billing is already registered on this application; call init_app once per app."
            )
        db = db if db is not None else self._db
        if db is None:
            raise TypeError("init_app() needs the application's Flask-SQLAlchemy object: init_app(app, db=db).")

        plug_model_verbs()
        apply_defaults(app.config)
        warn_unknown_keys(app.config)
        refused: ConfigurationError | None = None
        try:
            config: BillingConfig | None = load_config(app.config)
        except ConfigurationError as exc:
            if not _loading_to_find_commands():
                raise
            config, refused = None, exc
        model = _subscriber_model(
            app.config.get("STRIPE_SUBSCRIBER_MODEL") or subscriber_model or self._subscriber_model
        )
        app.config["STRIPE_SUBSCRIBER_MODEL"] = model
        attach_to_host(db, model)
        if config is None:
            assert refused is not None
            app.extensions[EXTENSION_KEY] = RefusedConfiguration(refused)
            app.cli.add_command(stripe_cli)
            return

        key_factory = config.idempotency_key_callback or stored_key_factory(db)
        gateway = StripeGateway(config, key_factory=key_factory, http_client=http_client or self._http_client)
        app.extensions[EXTENSION_KEY] = BillingState(config=config, db=db, subscriber_model=model, gateway=gateway)
        app.cli.add_command(stripe_cli)
        if register_blueprint if register_blueprint is not None else self._register_blueprint:
            blueprint = create_blueprint()
            add_webhook_route(blueprint, config.webhook_url)
            app.register_blueprint(blueprint, url_prefix=config.url_prefix or None)

    def require_subscription(self, app_or_blueprint: Flask | Blueprint, *, allow_past_due: bool = True) -> None:
        """Let only paying subscribers reach the views of *app_or_blueprint*, except the exempt ones.

        See :func:`flask_stripe_billing.web.gate.require_subscription` (exemptions, the policy for past-due,
        canceling and incomplete subscriptions).  Call it before registering a blueprint.
        """
        require_subscription(app_or_blueprint, allow_past_due=allow_past_due)

    def checkout(self, subscriber: Any, *plans_or_prices: PlanOrPrice, **options: Any) -> CheckoutSession:
        """A Checkout Session for *subscriber*: redirect to its ``url`` (303).  **Calls Stripe.**

        Takes the arguments of :func:`flask_stripe_billing.checkout.sessions.create_checkout_session` (``mode``,
        ``quantity``, ``trial_days``, ``coupon``, ``allow_promotion_codes``, ``success_url``, ``cancel_url`` and
        Stripe's own parameters), which also lists the errors.
        """
        return checkout.create_checkout_session(subscriber, *plans_or_prices, **options)

    def billing_portal_url(self, subscriber: Any, return_url: str | None = None, **stripe_options: Any) -> str:
        """The URL of a new Customer Portal session for *subscriber* (by default leading back to the account
        page).  **Calls Stripe.**  See :func:`flask_stripe_billing.checkout.portal.billing_portal_url`."""
        return checkout.billing_portal_url(subscriber, return_url, **stripe_options)

    @property
    def gateway(self) -> StripeGateway:
        """The current application's :class:`~flask_stripe_billing.core.client.StripeGateway`."""
        return get_state().gateway

    @property
    def config(self) -> Any:
        """The current application's validated :class:`~flask_stripe_billing.config.BillingConfig`."""
        return get_state().config


def plug_model_verbs() -> None:
    """Hand every model the domain functions behind its verbs (see :mod:`flask_stripe_billing.models.ports`).

    This is the one place that says which function does ``charge.charge()``, ``subscription.cancel()`` and the
    other row verbs; the models import nothing above them.
    """
    CUSTOMER_VERBS.plug(
        CustomerVerbs(
            create=customers.create_customer,
            refresh=customers.refresh_customer,
            add_new_source=customers.add_new_source,
        )
    )
    COUPON_VERBS.plug(
        CouponVerbs(
            create=coupons.create_coupon_row,
            update=coupons.update_coupon,
            refresh=coupons.refresh_coupon,
            delete=coupons.delete_coupon,
        )
    )
    PLAN_VERBS.plug(PlanVerbs(create=plans.create_plan))
    SUBSCRIPTION_VERBS.plug(
        SubscriptionVerbs(
            create=subscriptions.create_subscription,
            refresh=subscriptions.refresh_subscription,
            cancel=subscriptions.cancel_subscription,
            change_plan=subscriptions.change_plan,
            due_for_cancel=subscriptions.get_subscriptions_for_cancel,
            end_due=subscriptions.end_subscriptions,
        )
    )
    CHARGE_VERBS.plug(ChargeVerbs(charge=charges.charge, refund=charges.refund, refresh=charges.refresh_charge))


class RefusedConfiguration:
    """Stands for the state of an application whose Stripe settings were refused while the ``flask`` command
    loaded it to find its commands: using it raises that :class:`ConfigurationError` again."""

    def __init__(self, error: ConfigurationError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        raise ConfigurationError(self.error.key, self.error.problem)


def _loading_to_find_commands() -> bool:
    """Whether the ``flask`` command is loading the application only to look up or list its commands.

    Flask does that in its command group (``flask --help``, ``flask stripe --help``, any command the
    application adds).  Its own ``run``, ``shell`` and ``routes`` load the application from their own context,
    so a web server started with ``flask run`` still refuses a bad configuration at once.
    """
    context = click.get_current_context(silent=True)
    return context is not None and isinstance(context.command, FlaskGroup)


def _subscriber_model(value: Any) -> type[Any]:
    """Resolve and check the subscriber model (a mapped class with an ``email``)."""
    if value is None:
        raise ConfigurationError(
            "STRIPE_SUBSCRIBER_MODEL",
            "is required: pass subscriber_model=User to init_app(), or set it to a model or an import string.",
        )
    model = import_string_or_callable("STRIPE_SUBSCRIBER_MODEL", value)
    if not isinstance(model, type) or sa.inspect(model, raiseerr=False) is None:
        raise ConfigurationError("STRIPE_SUBSCRIBER_MODEL", f"{value!r} is not a SQLAlchemy model class.")
    if not hasattr(model, "email"):
        raise ConfigurationError(
            "STRIPE_SUBSCRIBER_MODEL",
            f"{model.__name__} has no 'email' attribute; the subscriber model must expose the address Stripe "
            "receipts go to (a column or a property named email).",
        )
    return model
