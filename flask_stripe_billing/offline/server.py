"""The offline Stripe's server process: localstripe, with what it lacks or gets wrong patched in.

Started by :class:`flask_stripe_billing.offline.OfflineStripe` as ``python -m flask_stripe_billing.offline PORT``.
localstripe is GPL-licensed: this module runs only in that child process and is never imported by the extension.
"""

from __future__ import annotations

from typing import Any

#: Parameters Stripe accepts but localstripe refuses ("Unexpected ..."): the offline server takes them and
#: keeps them on the object as given, like Stripe, so that the demo can pay a charge with a description.
ACCEPTED_AS_GIVEN = {
    "PaymentIntent": ("description", "statement_descriptor", "statement_descriptor_suffix"),
    "Refund": ("reason",),
    "Coupon": ("name",),
}


def _accept_as_given(resource: Any, names: tuple[str, ...]) -> None:  # pragma: no cover - child process
    """Let *resource* (a localstripe class) take *names* and store them unchanged."""
    original = resource.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in names if name in kwargs}
        original(self, *args, **kwargs)
        for name in names:
            setattr(self, name, given.get(name))

    resource.__init__ = __init__


def serve(port: int) -> None:  # pragma: no cover - runs in the child process
    """Run localstripe on 127.0.0.1:*port* without its disk dump (it would write /tmp/localstripe.pickle)."""
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    for name, parameters in ACCEPTED_AS_GIVEN.items():
        _accept_as_given(getattr(resources, name), parameters)
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None)
