"""An offline Stripe for development and tests: `localstripe <https://pypi.org/project/localstripe/>`_ in a
child process, bound to 127.0.0.1, keeping nothing on disk unless given a ``store_path``.

The server is localstripe as released, except that it accepts a few parameters Stripe accepts and localstripe
refuses (:data:`flask_stripe_billing.offline.server.ACCEPTED_AS_GIVEN`), keeping them on the object unchanged.

localstripe is GPL-licensed, so it is never imported by the extension itself: it runs as a separate server
(install it with the ``demo`` or ``test`` extra), and the application talks to it over HTTP through
``STRIPE_API_BASE`` like it would to Stripe.

.. code-block:: python

    with OfflineStripe() as offline:
        app.config["STRIPE_API_BASE"] = offline.url

The child process stops with its parent: when :meth:`OfflineStripe.stop` is called, at interpreter exit, and
on POSIX also when the parent dies without cleaning up (even by ``SIGKILL``), through a pipe only the parent
holds open.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..config_keys import OFFLINE_API_KEY as OFFLINE_API_KEY
from ..config_keys import OFFLINE_PUBLISHABLE_KEY as OFFLINE_PUBLISHABLE_KEY
from .server import UNREADABLE_STORE_STATUS


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UnreadableStore(RuntimeError):
    """The offline Stripe's ``store_path`` exists but cannot be read (written by another localstripe version,
    or truncated): delete it to start with an empty store."""


class OfflineStripe:
    """Run localstripe on 127.0.0.1 in a child process.

    :param port: the port to listen on (default: a free one).
    :param log_path: where the server's output goes (default: discarded).
    :param store_path: a file to keep the server's objects in across restarts (default: none, every start is
        empty).  It is read at start and replaced atomically after each request that may change an object,
        every second while objects change by themselves, and at shutdown.  Webhook endpoints are not kept:
        register them again after each start.  :meth:`start` raises :class:`UnreadableStore` when the file
        exists but cannot be read.
    """

    def __init__(self, port: int | None = None, *, log_path: str | None = None, store_path: str | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.store_path = store_path
        self._process: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    @property
    def url(self) -> str:
        """The base URL to put in ``STRIPE_API_BASE``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        """Where localstripe serves its stand-in for Stripe.js (for ``STRIPE_JS_URL``)."""
        return f"{self.url}/js.stripe.com/v3/"

    def start(self, timeout: float = 20.0) -> OfflineStripe:
        """Start the server and wait until it answers."""
        command = [sys.executable, "-m", "flask_stripe_billing.offline", str(self.port)]
        if self.store_path is not None:
            command += ["--store", os.path.abspath(self.store_path)]
        pass_fds: tuple[int, ...] = ()
        if os.name == "posix":
            # The child stops when this pipe reaches end of file: when this process closes it or dies.
            read_end, self._lifeline = os.pipe()
            command += ["--parent-fd", str(read_end)]
            pass_fds = (read_end,)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                pass_fds=pass_fds,
            )
        except BaseException:
            self._close_lifeline()
            raise
        finally:
            if not isinstance(log, int):
                log.close()  # the child has its own copy of the descriptor
            for fd in pass_fds:
                os.close(fd)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._process.poll()
            if status is not None:
                self.stop()
                if status == UNREADABLE_STORE_STATUS:
                    raise UnreadableStore(f"The offline Stripe's store {self.store_path} cannot be read.")
                raise RuntimeError(
                    f"The offline Stripe (localstripe) exited with status {status}; "
                    "is localstripe installed (pip install 'flask-stripe-billing[demo]')?"
                )
            if self.is_up():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"The offline Stripe did not answer on {self.url} within {timeout} s.")

    def is_up(self) -> bool:
        """Whether the server answers an authenticated request."""
        try:
            self._call("GET", "/v1/customers?limit=1")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def stop(self) -> None:
        """Stop the server (it saves its store first, if it has one)."""
        atexit.unregister(self.stop)
        had_lifeline = self._lifeline is not None
        self._close_lifeline()  # the server sees end of file and shuts down, saving its store
        if self._process is not None:
            # A signal during that shutdown would cut it short: send one only if it takes too long.
            for step in ("wait", "terminate", "kill"):
                if step == "terminate" or (step == "wait" and not had_lifeline):
                    self._process.terminate()
                elif step == "kill":
                    self._process.kill()
                try:
                    self._process.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self._process.wait()
            self._process = None

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def reset(self) -> None:
        """Forget every object the server holds."""
        self._call("DELETE", "/_config/data")

    def register_webhook(self, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
        """Have the server send its events to *url*, signed with *secret*."""
        data: list[tuple[str, str]] = [("url", url), ("secret", secret)]
        data += [(f"events[{i}]", event) for i, event in enumerate(events or [])]
        self._call("POST", f"/_config/webhooks/{urllib.parse.quote(name)}", urllib.parse.urlencode(data).encode())

    def _call(self, method: str, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
            self.url + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {OFFLINE_API_KEY}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def __enter__(self) -> OfflineStripe:
        return self.start() if self._process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (tests); :class:`AppServer` with ``quiet=False`` logs them."""


class AppServer:
    """Serve a Flask application on a local port, one thread per request, so that the offline Stripe can
    deliver webhooks to it (and a browser can load its pages).

    .. code-block:: python

        with AppServer(app) as server:
            offline.register_webhook("dev", f"{server.url}/billing/webhooks", secret)

    It uses the standard library's WSGI server rather than Werkzeug's development server (``flask run``):
    the webhook route processes an event once its answer is sent, in the response's close callbacks, and
    Werkzeug's server skips those when the client resets the connection after reading the answer, which
    localstripe sometimes does.  The event is then kept but only processed by ``flask stripe replay-webhooks
    --failed``.  Production servers (gunicorn, uWSGI, waitress) always call them.

    :param port: the port (default: a free one).
    :param quiet: do not log each request to standard error.
    """

    def __init__(self, app: Any, port: int = 0, *, host: str = "127.0.0.1", quiet: bool = True) -> None:
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._host = host
        self._server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The application's base URL, e.g. ``http://127.0.0.1:50123``."""
        return f"http://{self._host}:{self._server.server_port}"

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted, then close the socket."""
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._server.server_close()

    def start(self) -> AppServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
