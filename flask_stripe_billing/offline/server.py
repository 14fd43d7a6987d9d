"""The offline Stripe's server process: localstripe, with what it lacks or gets wrong patched in.

Started by :class:`flask_stripe_billing.offline.OfflineStripe` as ``python -m flask_stripe_billing.offline PORT``.
localstripe is GPL-licensed: this module runs only in that child process and is never imported by the extension.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Parameters Stripe accepts but localstripe refuses ("Unexpected ..."): the offline server takes them and
#: keeps them on the object as given, like Stripe, so that the demo can pay a charge with a description.
ACCEPTED_AS_GIVEN = {
    "PaymentIntent": ("description", "statement_descriptor", "statement_descriptor_suffix"),
    "Refund": ("reason",),
    "Coupon": ("name",),
}

#: The exit status of the server when its store file exists but cannot be read (another localstripe version,
#: a truncated file): :class:`~flask_stripe_billing.offline.OfflineStripe` raises
#: :class:`~flask_stripe_billing.offline.UnreadableStore` for it.
UNREADABLE_STORE_STATUS = 3

#: How often (seconds) the store is saved when objects changed outside a request (charges settle later).
SAVE_INTERVAL = 1.0


def _accept_as_given(resource: Any, names: tuple[str, ...]) -> None:  # pragma: no cover - child process
    """Let *resource* (a localstripe class) take *names* and store them unchanged."""
    original = resource.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in names if name in kwargs}
        original(self, *args, **kwargs)
        for name in names:
            setattr(self, name, given.get(name))

    resource.__init__ = __init__


class StoreFile:  # pragma: no cover - runs in the child process
    """localstripe's store kept in *path*: loaded at start, saved atomically (a temporary file in the same
    folder, then :func:`os.replace`) after each request that may change it, every :data:`SAVE_INTERVAL`
    seconds when it changed otherwise, and at shutdown.  A save is skipped when nothing changed."""

    def __init__(self, store: dict[str, Any], path: str) -> None:
        self.store = store
        self.path = Path(path)
        self._saved: bytes | None = None

    def load(self) -> None:
        """Fill the store from the file, if there is one; exit with :data:`UNREADABLE_STORE_STATUS` if it
        cannot be read."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            objects = pickle.loads(raw)  # noqa: S301 - our own file, written by save()
            if not isinstance(objects, dict):
                raise TypeError(f"a {type(objects).__name__}, not a dict")
        except Exception as exc:  # any failure means the same: the file is unusable
            print(f"The offline Stripe's store {self.path} cannot be read: {exc!r}", file=sys.stderr, flush=True)
            raise SystemExit(UNREADABLE_STORE_STATUS) from None
        self.store.clear()
        self.store.update(objects)
        self._saved = raw

    def save(self) -> None:
        """Write the store to the file if it changed since it was last written or read."""
        raw = pickle.dumps(dict(self.store), protocol=pickle.HIGHEST_PROTOCOL)
        if raw == self._saved:
            return
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(raw)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            print(f"The offline Stripe could not save its store to {self.path}: {exc}", file=sys.stderr, flush=True)
            return
        self._saved = raw

    async def save_periodically(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL)
            self.save()


def _keep_store(resources: Any, app: Any, store_path: str | None) -> None:  # pragma: no cover - child process
    """Replace localstripe's own disk dump (every change, to /tmp/localstripe.pickle): nothing is kept without
    *store_path*, else the store lives in *store_path* (see :class:`StoreFile`)."""
    resources.Store.__setitem__ = dict.__setitem__
    resources.Store.__delitem__ = dict.__delitem__
    resources.Store.try_load_from_disk = lambda self: None
    if store_path is None:
        resources.Store.dump_to_disk = lambda self: None
        return
    keeper = StoreFile(resources.store, store_path)
    keeper.load()
    # localstripe calls dump_to_disk() after each POST, PUT and DELETE request (its save_store_middleware).
    resources.Store.dump_to_disk = lambda self: keeper.save()
    tasks: list[asyncio.Task[None]] = []

    async def on_startup(app: Any) -> None:
        tasks.append(asyncio.ensure_future(keeper.save_periodically()))

    async def on_cleanup(app: Any) -> None:
        for task in tasks:
            task.cancel()
        keeper.save()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)


def _stop_with_parent(app: Any, parent_fd: int | None) -> None:  # pragma: no cover - child process
    """Shut down (saving the store) once *parent_fd*, the read end of a pipe whose write end only the parent
    holds, reaches end of file: when the parent stops it or dies, even by SIGKILL."""
    if parent_fd is None:
        return
    from aiohttp.web_runner import GracefulExit

    def parent_gone() -> None:
        try:
            data = os.read(parent_fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_event_loop().remove_reader(parent_fd)
            raise GracefulExit

    async def on_startup(app: Any) -> None:
        os.set_blocking(parent_fd, False)
        asyncio.get_event_loop().add_reader(parent_fd, parent_gone)

    app.on_startup.append(on_startup)


def serve(port: int, store_path: str | None = None, parent_fd: int | None = None) -> None:  # pragma: no cover
    """Run localstripe on 127.0.0.1:*port*, keeping its objects in *store_path* (or nowhere), until stopped
    by a signal or by end of file on *parent_fd*."""
    from aiohttp import web
    from localstripe import resources, server

    _keep_store(resources, server.app, store_path)
    _stop_with_parent(server.app, parent_fd)
    for name, parameters in ACCEPTED_AS_GIVEN.items():
        _accept_as_given(getattr(resources, name), parameters)
    from . import cards, checkout, portal, prices, subscriptions

    cards.install(resources)
    subscriptions.install(resources)
    prices.install(resources)
    checkout.install(resources, server.app)
    portal.install(resources, server.app)
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None, shutdown_timeout=2)
