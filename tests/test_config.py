"""Configuration: defaults, validation at start-up, unknown keys, registration rules."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
import stripe
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_stripe_billing import ConfigurationError, StripeBilling
from flask_stripe_billing.config import DEFAULTS
from flask_stripe_billing.config_keys import mask_secret
from flask_stripe_billing.core.state import get_state
from flask_stripe_billing.errors import ConfigurationWarning
from tests import hostapp

BASE = {"STRIPE_API_KEY": "sk_test_123", "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def make_app(**config: Any) -> Flask:
    return hostapp.create_app({**BASE, **config})


def test_defaults_are_visible_in_app_config() -> None:
    app = make_app()
    for key, default in DEFAULTS.items():
        assert key in app.config
        if key not in ("STRIPE_SUBSCRIBER_MODEL", "STRIPE_API_KEY"):
            assert app.config[key] == default
    assert app.config["STRIPE_API_VERSION"] == stripe.api_version
    assert app.config["STRIPE_SUBSCRIBER_MODEL"] is hostapp.User


def test_config_is_read_once_at_init_app() -> None:
    app = make_app(STRIPE_DEFAULT_CURRENCY="EUR")
    app.config["STRIPE_DEFAULT_CURRENCY"] = "jpy"
    assert get_state(app).config.default_currency == "eur"


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({"STRIPE_API_KEY": None}, "STRIPE_API_KEY", "is required"),
        ({"STRIPE_API_KEY": "pk_test_123"}, "STRIPE_API_KEY", "secret or restricted key"),
        ({"STRIPE_PUBLISHABLE_KEY": "sk_test_oops"}, "STRIPE_PUBLISHABLE_KEY", "never a secret key"),
        ({"STRIPE_API_VERSION": "2024-13-01"}, "STRIPE_API_VERSION", "YYYY-MM-DD"),
        ({"STRIPE_API_VERSION": "latest"}, "STRIPE_API_VERSION", "YYYY-MM-DD"),
        ({"STRIPE_API_BASE": "localhost:12111"}, "STRIPE_API_BASE", "http(s) URL"),
        ({"STRIPE_WEBHOOK_TOLERANCE": "300"}, "STRIPE_WEBHOOK_TOLERANCE", "integer"),
        ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": ["whsec_a", ""]}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "list of them"),
        ({"STRIPE_URL_PREFIX": "billing"}, "STRIPE_URL_PREFIX", "starting with '/'"),
        ({"STRIPE_WEBHOOK_URL": "/"}, "STRIPE_WEBHOOK_URL", "must not be '/'"),
        ({"STRIPE_PRORATION_POLICY": "yes"}, "STRIPE_PRORATION_POLICY", "True or False"),
        ({"STRIPE_REQUESTS_PER_SECOND": 0}, "STRIPE_REQUESTS_PER_SECOND", "positive"),
        ({"STRIPE_MAX_NETWORK_RETRIES": -1}, "STRIPE_MAX_NETWORK_RETRIES", "at least 0"),
        ({"STRIPE_DEFAULT_CURRENCY": "dollars"}, "STRIPE_DEFAULT_CURRENCY", "three-letter"),
        ({"STRIPE_WEBHOOK_EVENT_CALLBACK": "os.sep"}, "STRIPE_WEBHOOK_EVENT_CALLBACK", "not callable"),
        ({"STRIPE_WEBHOOK_EVENT_CALLBACK": "no_such_module:f"}, "STRIPE_WEBHOOK_EVENT_CALLBACK", "cannot import"),
        ({"STRIPE_IDEMPOTENCY_KEY_CALLBACK": "os:no_such_name"}, "STRIPE_IDEMPOTENCY_KEY_CALLBACK", "no attribute"),
        ({"STRIPE_SUBSCRIBER_REQUEST_CALLBACK": "nodots"}, "STRIPE_SUBSCRIBER_REQUEST_CALLBACK", "import string"),
        ({"STRIPE_ADMINS": [1, 2]}, "STRIPE_ADMINS", "list of strings"),
        ({"MAIL_PORT": "smtp"}, "MAIL_PORT", "integer"),
    ],
)
def test_bad_configuration_fails_at_start_naming_the_key(config: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_app(**config)
    assert caught.value.key == key
    assert str(caught.value).startswith(key)
    assert words in str(caught.value)


def test_valid_values_are_normalised() -> None:
    app = make_app(
        STRIPE_API_VERSION="2023-08-16",
        STRIPE_WEBHOOK_ENDPOINT_SECRET=["whsec_old", "whsec_new"],
        STRIPE_URL_PREFIX="/pay/",
        STRIPE_ADMINS="ops@example.com, cto@example.com",
        STRIPE_WEBHOOK_EVENT_CALLBACK="tests.hostapp:load_user",
        MAIL_PORT="2525",
    )
    config = get_state(app).config
    assert config.api_version == "2023-08-16"
    assert config.webhook_secrets == ("whsec_old", "whsec_new")
    assert config.url_prefix == "/pay"
    assert config.admins == ("ops@example.com", "cto@example.com")
    assert config.webhook_event_callback is hostapp.load_user
    assert config.mail.port == 2525
    assert not config.livemode


def test_unknown_stripe_key_warns_with_the_closest_known_key() -> None:
    with pytest.warns(UserWarning, match="STRIPE_WEBHOOK_SECRET.*Did you mean STRIPE_WEBHOOK_ENDPOINT_SECRET"):
        make_app(STRIPE_WEBHOOK_SECRET="whsec_x")


def test_known_keys_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_app(STRIPE_USER_MODEL=hostapp.User, STRIPE_PRORATION_POLICY=True)


def test_subscriber_model_alias_and_import_string() -> None:
    app = make_app(STRIPE_USER_MODEL="tests.hostapp:User")
    assert get_state(app).subscriber_model is hostapp.User


def test_subscriber_model_without_email_is_refused() -> None:
    database = SQLAlchemy()

    class Team(database.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "teams"
        id = database.Column(database.Integer, primary_key=True)

    with pytest.raises(ConfigurationError, match="STRIPE_SUBSCRIBER_MODEL Team has no 'email'"):
        hostapp.create_app(BASE, db=database, subscriber_model=Team)


def test_subscriber_model_must_be_a_model() -> None:
    with pytest.raises(ConfigurationError, match="not a SQLAlchemy model"):
        make_app(STRIPE_SUBSCRIBER_MODEL="tests.hostapp:create_app")


def test_missing_subscriber_model_is_explained() -> None:
    app = Flask(__name__)
    app.config.update(BASE)
    with pytest.raises(ConfigurationError, match="STRIPE_SUBSCRIBER_MODEL is required"):
        StripeBilling().init_app(app, db=SQLAlchemy(app))


def test_db_is_required() -> None:
    app = Flask(__name__)
    app.config.update(BASE)
    with pytest.raises(TypeError, match="db=db"):
        StripeBilling().init_app(app, subscriber_model=hostapp.User)


def test_second_registration_on_one_app_is_refused() -> None:
    billing = StripeBilling()
    app = hostapp.create_app(BASE, billing=billing)
    with pytest.raises(RuntimeError, match="already registered"):
        billing.init_app(app, db=hostapp.db, subscriber_model=hostapp.User)


def test_constructor_with_app_initialises_it() -> None:
    app = Flask(__name__)
    app.config.update(BASE)
    hostapp.db.init_app(app)
    StripeBilling(app, db=hostapp.db, subscriber_model=hostapp.User)
    assert get_state(app).config.api_key == "sk_test_123"


def test_two_apps_share_nothing() -> None:
    billing = StripeBilling()
    first = hostapp.create_app({**BASE, "STRIPE_API_KEY": "sk_test_first"}, billing=billing)
    second = hostapp.create_app(
        {**BASE, "STRIPE_API_KEY": "sk_live_second", "STRIPE_API_VERSION": "2023-08-16"}, billing=billing
    )
    one, two = get_state(first), get_state(second)
    assert one.gateway is not two.gateway
    assert one.gateway.client is not two.gateway.client
    assert one.gateway.rate_limiter is not two.gateway.rate_limiter
    assert (one.config.livemode, two.config.livemode) == (False, True)
    assert first.config["STRIPE_ADMINS"] is not second.config["STRIPE_ADMINS"]
    with first.app_context():
        assert billing.gateway is one.gateway
    with second.app_context():
        assert billing.config.api_version == "2023-08-16"
    assert not hasattr(billing, "app")
    assert stripe.api_key is None


def test_gateway_repr_hides_the_secret_key() -> None:
    app = make_app(STRIPE_API_KEY="sk_test_verysecret")
    assert "verysecret" not in repr(get_state(app).gateway)


def test_state_of_an_uninitialised_app_is_explained() -> None:
    with pytest.raises(RuntimeError, match="not initialised"):
        get_state(Flask(__name__))


def test_blueprint_registered_at_prefix_unless_disabled() -> None:
    app = make_app(STRIPE_URL_PREFIX="/pay")
    assert "stripe_billing" in app.blueprints
    app = hostapp.create_app(BASE, register_blueprint=False)
    assert "stripe_billing" not in app.blueprints


#: Realistic-looking keys: long enough that a leak into a message would be noticed.
SECRET = "sk_test_51HqLyjWDarjtT1zdp7dcXyzSecretPart0123"
LIVE = "sk_live_51HqLyjWDarjtT1zdp7dcXyzLivePart4567"
LIVE_PK = "pk_live_51HqLyjWDarjtT1zdp7dcXyzPublic890"
TEST_PK = "pk_test_51HqLyjWDarjtT1zdp7dcXyzPublic890"
WHSEC = "whsec_7d9a1c3b5e0f2468ace13579bdf02468"
LIVE_BASE_OPT_IN = "STRIPE_ALLOW_LIVE_KEY_WITH_CUSTOM_API_BASE"

MISTAKES = [
    # STRIPE_API_KEY
    ({"STRIPE_API_KEY": ""}, "STRIPE_API_KEY", "is required"),
    ({"STRIPE_API_KEY": "   "}, "STRIPE_API_KEY", "is blank"),
    ({"STRIPE_API_KEY": f"{SECRET}\n"}, "STRIPE_API_KEY", "line break around it"),
    ({"STRIPE_API_KEY": f" {SECRET}"}, "STRIPE_API_KEY", "spaces or a line break around it"),
    ({"STRIPE_API_KEY": f"\t{LIVE}\r\n"}, "STRIPE_API_KEY", "around it"),
    ({"STRIPE_API_KEY": f"{SECRET} {SECRET}"}, "STRIPE_API_KEY", "give one value only"),
    ({"STRIPE_API_KEY": "sk_"}, "STRIPE_API_KEY", "only the prefix 'sk_'"),
    ({"STRIPE_API_KEY": "sk_test_"}, "STRIPE_API_KEY", "only the prefix 'sk_test_'"),
    ({"STRIPE_API_KEY": "rk_live_"}, "STRIPE_API_KEY", "only the prefix 'rk_live_'"),
    ({"STRIPE_API_KEY": f'"{SECRET}"'}, "STRIPE_API_KEY", "wrapped in quotes"),
    ({"STRIPE_API_KEY": "sk_live_...a1b2"}, "STRIPE_API_KEY", "shortened"),
    ({"STRIPE_API_KEY": WHSEC}, "STRIPE_API_KEY", "STRIPE_WEBHOOK_ENDPOINT_SECRET"),
    ({"STRIPE_API_KEY": TEST_PK}, "STRIPE_API_KEY", "STRIPE_PUBLISHABLE_KEY"),
    ({"STRIPE_API_KEY": 12345}, "STRIPE_API_KEY", "must be a string"),
    ({"STRIPE_API_KEY": SECRET.encode()}, "STRIPE_API_KEY", "must be a string"),
    # STRIPE_PUBLISHABLE_KEY
    ({"STRIPE_PUBLISHABLE_KEY": f"{TEST_PK}\n"}, "STRIPE_PUBLISHABLE_KEY", "around it"),
    ({"STRIPE_PUBLISHABLE_KEY": "pk_"}, "STRIPE_PUBLISHABLE_KEY", "only the prefix"),
    ({"STRIPE_PUBLISHABLE_KEY": f" {SECRET}"}, "STRIPE_PUBLISHABLE_KEY", "never a secret key"),
    ({"STRIPE_PUBLISHABLE_KEY": "rk_test_abc"}, "STRIPE_PUBLISHABLE_KEY", "never a secret key"),
    ({"STRIPE_PUBLISHABLE_KEY": LIVE_PK}, "STRIPE_PUBLISHABLE_KEY", "live-mode key but STRIPE_API_KEY is a test"),
    (
        {"STRIPE_API_KEY": LIVE, "STRIPE_PUBLISHABLE_KEY": TEST_PK},
        "STRIPE_PUBLISHABLE_KEY",
        "test-mode key but STRIPE_API_KEY is a live",
    ),
    # STRIPE_WEBHOOK_ENDPOINT_SECRET
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": " "}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "is blank"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_a,whsec_b"}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "give a list"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_a, whsec_b"}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "give a list"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_a whsec_b"}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "give a list"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": ["whsec_a,whsec_b"]}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "item 1 holds"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": SECRET}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "is a Stripe API key"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": LIVE_PK}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "is a Stripe API key"),
    (
        {"STRIPE_WEBHOOK_ENDPOINT_SECRET": [WHSEC, "rk_live_abc"]},
        "STRIPE_WEBHOOK_ENDPOINT_SECRET",
        "item 2 is a Stripe API key",
    ),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": "whsec_"}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "only the prefix"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": f"{WHSEC}\n"}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "around it"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": [WHSEC, " "]}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "item 2 is blank"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": 42}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "or a list of them"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": WHSEC.encode()}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "or a list of them"),
    ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": {WHSEC}}, "STRIPE_WEBHOOK_ENDPOINT_SECRET", "or a list of them"),
    # A live key sent somewhere other than Stripe
    ({"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "http://127.0.0.1:12111"}, "STRIPE_API_BASE", LIVE_BASE_OPT_IN),
    ({"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "https://proxy.example.com"}, "STRIPE_API_BASE", "live key"),
    ({"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "http://api.stripe.com"}, "STRIPE_API_BASE", "not Stripe's"),
    ({"STRIPE_API_KEY": "rk_live_abc", "STRIPE_API_BASE": "https://api.stripe.com:8443"}, "STRIPE_API_BASE", "live"),
    ({"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "https://api.stripe.com.evil.example"}, "STRIPE_API_BASE", "live"),
    ({"STRIPE_API_KEY": LIVE, LIVE_BASE_OPT_IN: "yes"}, LIVE_BASE_OPT_IN, "True or False"),
]


@pytest.mark.parametrize(("config", "key", "words"), MISTAKES)
def test_mistaken_keys_and_secrets_are_refused_without_showing_them(
    config: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_app(**config)
    message = str(caught.value)
    assert caught.value.key == key
    assert message.startswith(key)
    assert words in message
    assert "\n" not in message
    for secret in (SECRET, LIVE, WHSEC):
        assert secret[-16:-4] not in message  # at most a masked form: the prefix and the last four characters


def test_there_are_enough_mistakes() -> None:
    assert len(MISTAKES) >= 31


GOOD = [
    {
        "STRIPE_API_KEY": "sk_test_offline",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_offline",
        "STRIPE_API_BASE": "http://localhost:12111",
    },
    {"STRIPE_API_KEY": "sk_test_offline", "STRIPE_API_BASE": "http://127.0.0.1:12111"},
    {"STRIPE_API_KEY": "rk_test_51HqLyjRestricted", "STRIPE_PUBLISHABLE_KEY": TEST_PK},
    {"STRIPE_API_KEY": "rk_live_51HqLyjRestricted", "STRIPE_PUBLISHABLE_KEY": LIVE_PK},
    {"STRIPE_API_KEY": LIVE, "STRIPE_PUBLISHABLE_KEY": LIVE_PK, "STRIPE_API_BASE": "https://api.stripe.com/"},
    {"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "https://api.stripe.com:443"},
    {"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "https://stripe-proxy.example.com", LIVE_BASE_OPT_IN: True},
    {"STRIPE_API_KEY": SECRET, "STRIPE_API_BASE": "https://stripe-mock.example.com"},
    {"STRIPE_API_KEY": LIVE, "STRIPE_PUBLISHABLE_KEY": None, "STRIPE_WEBHOOK_ENDPOINT_SECRET": WHSEC},
    {"STRIPE_WEBHOOK_ENDPOINT_SECRET": ["whsec_old", "whsec_new"]},
    {"STRIPE_WEBHOOK_ENDPOINT_SECRET": ("whsec_old", "whsec_new", WHSEC)},
    {"STRIPE_WEBHOOK_ENDPOINT_SECRET": []},
    {"STRIPE_WEBHOOK_ENDPOINT_SECRET": ""},
    {"STRIPE_PUBLISHABLE_KEY": ""},
]


@pytest.mark.parametrize("config", GOOD)
def test_good_keys_and_secrets_start_without_a_warning(config: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = make_app(**config)
    loaded = get_state(app).config
    assert loaded.api_key == config.get("STRIPE_API_KEY", BASE["STRIPE_API_KEY"])
    secrets = config.get("STRIPE_WEBHOOK_ENDPOINT_SECRET") or ()
    assert loaded.webhook_secrets == ((secrets,) if isinstance(secrets, str) else tuple(secrets))


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"STRIPE_API_KEY": "sk_51HqLyjWDarjtT1zdp7dcNoMode99"}, "neither 'test_' nor 'live_'"),
        ({"STRIPE_WEBHOOK_ENDPOINT_SECRET": "7d9a1c3b5e0f2468ace13579bdf02468"}, "does not start with 'whsec_'"),
        ({"STRIPE_API_KEY": "sk_test_offline"}, "offline Stripe's key"),
        (
            {"STRIPE_API_KEY": LIVE, "STRIPE_API_BASE": "http://10.0.0.7:8080", LIVE_BASE_OPT_IN: True},
            "sent unencrypted",
        ),
    ],
)
def test_legal_but_suspicious_values_warn_without_showing_secrets(config: dict[str, Any], words: str) -> None:
    with pytest.warns(ConfigurationWarning, match=re.escape(words)) as caught:
        make_app(**config)
    for warning in caught:
        text = str(warning.message)
        assert "WDarjtT1zdp7dc" not in text
        assert "5e0f2468ace135" not in text
    # Attributed to the code that called init_app, not to the extension.
    assert {warning.filename for warning in caught if warning.category is ConfigurationWarning} == {hostapp.__file__}


def test_several_secrets_from_the_environment_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_STRIPE_WEBHOOK_ENDPOINT_SECRET", '["whsec_old", "whsec_new"]')
    app = Flask(__name__)
    app.config.update(BASE)
    app.config.from_prefixed_env()
    hostapp.db.init_app(app)
    StripeBilling().init_app(app, db=hostapp.db, subscriber_model=hostapp.User)
    assert get_state(app).config.webhook_secrets == ("whsec_old", "whsec_new")


def test_mask_secret_keeps_the_prefix_and_last_four() -> None:
    assert mask_secret(LIVE) == "'sk_live_...4567'"
    assert mask_secret("sk_test_short") == "'sk_test_...'"
    assert mask_secret(b"sk_live_x") == "a bytes"


def test_config_repr_hides_the_secrets() -> None:
    app = make_app(STRIPE_API_KEY=LIVE, STRIPE_WEBHOOK_ENDPOINT_SECRET=WHSEC, MAIL_PASSWORD="smtp-password-1")
    shown = repr(get_state(app))
    assert "LivePart4567" not in shown
    assert WHSEC not in shown
    assert "smtp-password-1" not in shown
    assert "api_version=" in shown
