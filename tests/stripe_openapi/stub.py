"""A local Stripe API stub for the endpoints localstripe lacks.

    with StripeStub() as stub:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": stub.url})
        stub.on("POST", "/v1/subscriptions", lambda params, stored: (200, {...}))

Every request is checked against the spec first: a violation is answered
with a Stripe-shaped 400 and kept in :attr:`StripeStub.violations`.  Valid
requests get objects built from Stripe's fixtures, kept in memory:

* ``POST`` on a collection creates, ``POST`` on ``.../{id}`` updates (scalars and metadata);
* ``GET .../{id}`` retrieves (404 ``resource_missing`` if unknown), ``GET`` on a collection lists;
* ``DELETE .../{id}`` deletes (a subscription is cancelled instead, as the API does);
* ``expand`` replaces ids with stored objects; an ``Idempotency-Key`` replays the first 2xx answer.
"""

from __future__ import annotations

import copy
import json
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Self, TypeAlias

from werkzeug.wrappers import Request, Response

from flask_stripe_billing.offline import AppServer

from .objects import ObjectStore, StripeObject, load_fixtures, new_id
from .records import RequestRecorder, inspect_request
from .spec import CheckedRequest, StripeSpec, load_spec

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Answer: TypeAlias = tuple[int, StripeObject]
# handler(params, stored): ``params`` are the request's parameters (typed per the spec) plus its path
# parameters under their template names (``subscription_exposed_id``; the spec has no name clash);
# ``stored`` is the live store, id -> object, which the handler may read and change.
Handler: TypeAlias = Callable[[dict[str, Any], dict[str, StripeObject]], Answer]


def stripe_error(status: int, message: str, *, kind: str = "invalid_request_error", **extra: Any) -> Answer:
    """An error answer shaped like the API's (``extra`` adds ``param``, ``code``...)."""
    details = {k: v for k, v in extra.items() if v is not None}
    return status, {"error": {"type": kind, "message": message, **details}}


class StripeStub(RequestRecorder):
    """A Stripe API double on 127.0.0.1, served from a background thread."""

    def __init__(self, spec: StripeSpec | None = None, *, max_records: int = 1000) -> None:
        super().__init__(max_records)
        self.spec = spec if spec is not None else load_spec()
        self.store = ObjectStore(self.spec, load_fixtures())
        self.errors: list[BaseException] = []  # exceptions raised by handlers (answered with a 500)
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._idempotent: dict[str, tuple[tuple[str, str, bytes], Answer]] = {}
        self._server: AppServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 (served from a background thread)."""
        if self._server is None:
            self._server = AppServer(self).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base address for ``StripeClient(base_addresses={"api": stub.url})``."""
        if self._server is None:
            raise RuntimeError("the stub is not started")
        return self._server.url

    # -- scripting -----------------------------------------------------------------------------

    def on(self, method: str, templated_path: str, handler: Handler) -> None:
        """Answer ``method templated_path`` with ``handler`` instead of the default behaviour."""
        if not self.spec.has_operation(method, templated_path):
            raise ValueError(f"{method.upper()} {templated_path} is not an operation of the spec")
        self._handlers[method.upper(), templated_path] = handler

    def reset(self) -> None:
        """Forget objects, recorded requests, handlers and idempotency keys.

        ``violations`` and ``errors`` are kept (see :meth:`clear`) so that a
        per-test reset cannot hide them from a session-end check.
        """
        with self.store.lock:
            self.store.objects.clear()
        self.clear()
        self._handlers.clear()
        self._idempotent.clear()

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        (status, body), replayed = self._handle(request)
        response = Response(json.dumps(body), status=status, content_type="application/json")
        response.headers["Request-Id"] = new_id("req_")
        if "Stripe-Version" in request.headers:
            response.headers["Stripe-Version"] = request.headers["Stripe-Version"]
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response(environ, start_response)

    def _handle(self, request: Request) -> tuple[Answer, bool]:
        """The answer to ``request`` and whether it is an idempotent replay."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            message = "You did not provide an API key. Provide it in the Authorization header (Bearer auth)."
            return stripe_error(401, message), False
        if not auth.removeprefix("Bearer ").startswith(("sk_", "rk_")):
            return stripe_error(401, "Invalid API Key provided."), False

        body = request.get_data()
        query = request.query_string.decode("utf-8")
        record, checked = inspect_request(self.spec, request.method, request.path, query, body, dict(request.headers))
        self.record(record)
        violation = record.violation
        if violation is not None:
            return stripe_error(400, str(violation), param=violation.param, code=violation.code), False
        assert checked is not None

        # Like the API: a retried POST with the same key gets the first (successful) answer again.
        key = request.headers.get("Idempotency-Key") if checked.method == "POST" else None
        fingerprint = (checked.method, request.path, body)
        if key is not None and key in self._idempotent:
            seen, answer = self._idempotent[key]
            if seen != fingerprint:
                message = "Keys for idempotent requests can only be used with the same parameters."
                return stripe_error(400, message, kind="idempotency_error"), False
            return answer, True

        try:
            answer = self._answer(checked)
        except Exception as error:  # a broken handler must fail the test, not hang the client
            self.errors.append(error)
            return stripe_error(500, "".join(traceback.format_exception(error)), kind="api_error"), False
        if key is not None and 200 <= answer[0] < 300:
            # A snapshot: the stored object may change later, the replayed answer must not.
            self._idempotent[key] = (fingerprint, (answer[0], copy.deepcopy(answer[1])))
        return answer, False

    # -- default behaviour ---------------------------------------------------------------------

    def _answer(self, request: CheckedRequest) -> Answer:
        method, templated_path = request.method, request.templated_path
        path_params, params = request.path_params, request.params
        handler = self._handlers.get((method, templated_path))
        if handler is not None:
            return handler({**params, **path_params}, self.store.objects)
        on_object = templated_path.endswith("}")  # .../{id}, as opposed to a collection or an action
        object_id = list(path_params.values())[-1] if path_params else ""
        schema = self.spec.response_schema_name(method, templated_path)
        expand = params.get("expand") or []
        if method == "GET":
            kind = self.spec.list_kind(method, templated_path)
            if kind is not None:
                item = self.spec.list_item_schema_name(method, templated_path)
                return 200, self.store.expand(self.store.page(kind, item, params, request.path), expand)
            if not on_object:
                return 200, self.store.sample(schema)  # singletons such as /v1/balance
        if method == "DELETE":
            return self._delete(object_id, schema) if on_object else (200, self.store.sample(schema))
        parent = self.store.get(object_id) if object_id else None
        if object_id and parent is None:
            return self._missing(object_id)
        if parent is not None and (on_object or not self._creates(templated_path)):
            # Retrieve, update, or an action on the object (POST /v1/invoices/{invoice}/pay).
            if parent.get("object") in self._types(method, templated_path):
                if on_object and method == "POST":
                    self.store.merge(parent, params)
                return 200, self.store.expand(parent, expand)
            if on_object:
                return self._missing(object_id)  # an id of another kind of object
            # Otherwise an action answering with another object (.../usage_records): made afresh below.
        # Keep only what the API lets one fetch again (not billing portal sessions or invoice previews).
        obj = self.store.create(schema, params, keep=self.spec.has_retrieve(templated_path))
        for name, value in path_params.items():
            if name in obj:  # POST /v1/customers/{customer}/tax_ids -> tax_id.customer
                obj[name] = value
        return 200, self.store.expand(obj, expand)

    def _creates(self, templated_path: str) -> bool:
        """POST on a top-level collection, or on a nested one that can be listed."""
        return "{" not in templated_path or self.spec.has_operation("GET", templated_path)

    def _types(self, method: str, templated_path: str) -> set[str]:
        """Object types an operation answers with (``card``, ``bank_account``, ``source``...)."""
        return {self.store.object_type(name) for name in self.spec.response_schema_names(method, templated_path)}

    def _delete(self, object_id: str, schema: str | None) -> Answer:
        obj = self.store.get(object_id)
        if obj is None:
            return self._missing(object_id)
        if schema and not schema.startswith("deleted_") and obj.get("object") == self.store.object_type(schema):
            # DELETE /v1/subscriptions/{id} cancels and answers with the subscription.
            return 200, _cancel(obj)
        with self.store.lock:
            self.store.objects.pop(object_id, None)
        return 200, {"id": object_id, "object": obj.get("object"), "deleted": True}

    def _missing(self, object_id: str) -> Answer:
        noun = self.store.type_of_id(object_id) or "object"
        return stripe_error(404, f"No such {noun}: '{object_id}'", code="resource_missing", param="id")


def _cancel(obj: StripeObject) -> StripeObject:
    now = int(time.time())
    obj.update({k: v for k, v in (("status", "canceled"), ("canceled_at", now), ("ended_at", now)) if k in obj})
    return obj
