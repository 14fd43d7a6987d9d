"""Stripe's API conventions for the offline Stripe's own resources (Prices, Products, promotion codes, trials,
Checkout): its error bodies, how it reads parameters, its events and its lists (in the server process).

Errors are localstripe's ``UserError`` carrying Stripe's body: ``type`` ``invalid_request_error``, ``message``,
``param`` and ``code`` (``resource_missing``, ``parameter_missing``).  Lists are newest first, paged by
``limit`` (1 to 100, 10 by default), ``starting_after`` and ``ending_before``, with ``has_more``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: Parameters Stripe takes that the offline Stripe does not model: refused with a message that says so.
#: The pagination parameters of every list.
PAGE_PARAMS = frozenset(("limit", "starting_after", "ending_before"))
NOT_OFFLINE = frozenset(
    ("currency_options", "custom_unit_amount", "tiers", "tiers_mode", "transform_quantity", "unit_amount_decimal")
)


def stripe_error(resources: Any, message: str, param: str | None = None, code: str | None = None) -> Any:
    """localstripe's UserError with Stripe's 400 ``invalid_request_error`` body (``param``, ``code``)."""
    contents = {key: value for key, value in (("param", param), ("code", code)) if value is not None}
    return resources.UserError(400, message, contents)


def no_such(resources: Any, kind: str, object_id: Any, param: str, status: int = 400) -> Any:
    """Stripe's ``resource_missing`` error: 404 for the object of the path, 400 for one a parameter names."""
    error = stripe_error(resources, f"No such {kind}: '{object_id}'", param, "resource_missing")
    error.code = status
    return error


def check_params(resources: Any, data: dict[str, Any], accepted: Iterable[str], prefix: str = "") -> None:
    """Refuse the first parameter of *data* not in *accepted* as Stripe refuses an unknown one."""
    for name in sorted(set(data) - set(accepted)):
        if name in NOT_OFFLINE:
            raise stripe_error(resources, f"The offline Stripe does not support {name}.", param_name(prefix, name))
        raise stripe_error(
            resources, f"Received unknown parameter: {param_name(prefix, name)}", param_name(prefix, name)
        )


def missing_param(resources: Any, name: str) -> Any:
    """Stripe's ``parameter_missing`` error for *name*."""
    return stripe_error(resources, f"Missing required param: {name}.", name, "parameter_missing")


def one_of(resources: Any, *names: str) -> Any:
    """Stripe's error for parameters that exclude each other."""
    return stripe_error(resources, f"You may only specify one of these parameters: {', '.join(names)}.", names[0])


def sub_object(resources: Any, value: Any, param: str, accepted: Iterable[str]) -> dict[str, Any]:
    """The object parameter *value* of *param*, refused unless it is one holding only *accepted* keys."""
    if not isinstance(value, dict):
        raise stripe_error(resources, "Invalid object", param)
    check_params(resources, value, accepted, param)
    return value


def choice(resources: Any, value: Any, param: str, choices: tuple[str, ...]) -> Any:
    """*value* if it is one of *choices*, else Stripe's error."""
    if value not in choices:
        listed = ", ".join(choices[:-1]) + (", or " if len(choices) > 2 else " or ") + choices[-1]
        raise stripe_error(resources, f"Invalid {param}: must be one of {listed}", param)
    return value


def param_name(prefix: str, name: str) -> str:
    """``name`` inside *prefix*: ``items[0][price_data]`` and ``currency`` make ``items[0][price_data][currency]``."""
    return f"{prefix}[{name}]" if prefix else name


def as_bool(resources: Any, value: Any, param: str) -> bool:
    """*value* (``True``, ``"true"``, ...) as a bool, or Stripe's error."""
    value = resources.try_convert_to_bool(value)
    if type(value) is not bool:
        raise stripe_error(resources, f"Invalid boolean: {value}", param)
    return value


def as_int(resources: Any, value: Any, param: str, minimum: int = 0) -> int:
    """*value* as an integer of at least *minimum*, or Stripe's error."""
    number = resources.try_convert_to_int(value) if not isinstance(value, float) else value
    if type(number) is not int or number < minimum:
        kind = {1: "positive ", 0: "non-negative "}.get(minimum, "")
        raise stripe_error(resources, f"Invalid {kind}integer: {value}", param)
    return number


def as_text(resources: Any, value: Any, param: str, *, empty: bool = True) -> str | None:
    """*value* as a string (``""`` is ``None`` when *empty* is allowed), or Stripe's error."""
    if value is None or (value == "" and empty):
        return None
    if not isinstance(value, str) or not value:
        raise stripe_error(resources, f"Invalid string: {value!r}", param)
    return value


def metadata(resources: Any, value: Any, old: dict[str, str] | None = None, param: str = "metadata") -> dict[str, str]:
    """*old* metadata updated by *value* as Stripe updates it: a key set to ``""`` goes, ``""`` empties it."""
    if value in (None, ""):
        return {} if value == "" else dict(old or {})
    if not isinstance(value, dict):
        raise stripe_error(resources, "Invalid object", param)
    merged = dict(old or {})
    for key, item in value.items():
        if item in ("", None):
            merged.pop(key, None)
        else:
            merged[str(key)] = str(item)
    return merged


def send_event(resources: Any, kind: str, obj: Any, previous: dict[str, Any] | None = None) -> None:
    """Store and send the event *kind* about *obj*, with ``previous_attributes`` when given."""
    event = resources.Event(kind, obj)
    if previous:
        event.data["previous_attributes"] = previous
    resources.schedule_webhook(event)


def refresh_event(resources: Any, kind: str, obj: Any) -> None:
    """Show *obj* as it is now in its latest *kind* event, not yet sent (objects set up after localstripe made
    them: the event goes out after the request)."""
    for value in reversed(list(resources.store.values())):
        if isinstance(value, resources.Event) and value.type == kind and value.data["object"].get("id") == obj.id:
            value.data["object"] = obj._export()
            return


def stored(resources: Any, kind: str) -> list[Any]:
    """The objects of *kind* (``price``, ``product``) in the store, newest first as Stripe lists them."""
    prefix = kind + ":"
    return [value for key, value in reversed(list(resources.store.items())) if key.startswith(prefix)]


def created_filter(resources: Any, value: Any) -> Callable[[Any], bool]:
    """A test of ``created`` for the list parameter *value* (a timestamp or ``gt``/``gte``/``lt``/``lte``)."""
    if value is None:
        return lambda obj: True
    if not isinstance(value, dict):
        exact = as_int(resources, value, "created")
        return lambda obj: int(obj.created) == exact
    check_params(resources, value, ("gt", "gte", "lt", "lte"), "created")
    bounds = {name: as_int(resources, bound, f"created[{name}]") for name, bound in value.items()}
    tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    return lambda obj: all(tests[name](int(obj.created), bound) for name, bound in bounds.items())


def expand_own(data: dict[str, Any], expand: list[str] | None, fields: dict[str, Callable[[str], Any]]) -> list[str]:
    """Expand in *data* the ids of *fields* (field -> finder of the object) named by *expand*; return the paths
    left for localstripe."""
    left = []
    for path in expand or []:
        head, _, rest = path.partition(".")
        if head not in fields:
            left.append(path)
        elif isinstance(data.get(head), str):
            data[head] = fields[head](data[head])._export(expand=[rest] if rest else None)
    return left


def equals(name: str, value: Any) -> Callable[[Any], bool]:
    """A list filter: whether an object's attribute *name* is *value*."""
    return lambda obj: bool(getattr(obj, name, None) == value)


class Page:
    """A page of a list, exported as Stripe's ``list`` object."""

    def __init__(self, url: str, data: list[Any], has_more: bool) -> None:
        self.url, self.data, self.has_more = url, data, has_more

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        inner = [path.removeprefix("data.") for path in expand or [] if path.startswith("data.")]
        data = [item._export(expand=inner or None) for item in self.data]
        return {"object": "list", "url": self.url, "has_more": self.has_more, "data": data}


def page(resources: Any, objects: list[Any], url: str, data: dict[str, Any], kind: str) -> Page:
    """The page of *objects* (newest first) that ``limit``, ``starting_after`` and ``ending_before`` in *data*
    ask for."""
    limit = as_int(resources, data.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise stripe_error(resources, "Invalid integer: limit must be at most 100", "limit")
    ids = [obj.id for obj in objects]
    for param in ("starting_after", "ending_before"):
        if data.get(param) is not None and data[param] not in ids:
            raise no_such(resources, kind, data[param], param)
    if data.get("starting_after") is not None:
        start = ids.index(data["starting_after"]) + 1
        return Page(url, objects[start : start + limit], start + limit < len(objects))
    if data.get("ending_before") is not None:
        end = ids.index(data["ending_before"])
        return Page(url, objects[max(0, end - limit) : end], end - limit > 0)
    return Page(url, objects[:limit], limit < len(objects))


def add_route(method: str, path: str, action: Callable[..., Any]) -> None:  # pragma: no cover - child process
    """Serve *path*: *action* takes the path's ``{id}`` (if any) and the parameters, and returns what to export."""
    from localstripe import server

    async def handle(request: Any) -> Any:
        if request.method == "POST":
            data = dict(await server.get_post_data(request) or {})
        else:
            data = dict(server.unflatten_data(request.query))
        expand = data.pop("expand", None)
        ids = [request.match_info["id"]] if "id" in request.match_info else []
        return server.json_response(action(*ids, data)._export(expand=[expand] if isinstance(expand, str) else expand))

    server.app.router.add_route(method, path, handle)
