"""What every cron command shares: a progress bar on a terminal, failures collected and reported at the end.

``flask stripe charge``, ``end-subscriptions``, ``refresh-customers`` and ``refresh-coupons`` go through many
rows; one failure must not stop the others, and every failure must be seen.  A command collects them in a
:class:`Failures` and calls :meth:`Failures.report` once at the end: each failure goes to Sentry when
``sentry_sdk`` is initialised in the process (so error tracking sees it with its traceback), and is always
printed to standard error, so cron mails it too.  The command then exits 1.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import click


@contextlib.contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``update(n)``: a progress bar on a terminal, a no-op elsewhere (cron, CI, pipes)."""
    if not sys.stdout.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=length, label=label) as bar:
        yield bar.update


@dataclass
class Failure:
    """One item a batch command could not handle: what it was, and why."""

    item: str
    error: BaseException


@dataclass
class Failures:
    """The failures of one batch run, reported together at its end."""

    items: list[Failure] = field(default_factory=list)

    def add(self, item: str, error: BaseException) -> None:
        """Record that *item* failed with *error* (call it from an ``except`` block; nothing is raised)."""
        self.items.append(Failure(item, error))

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def report(self, command: str) -> None:
        """Print every failure to standard error and, when Sentry is set up, capture each one there."""
        capture = _sentry_capture()
        for failure in self.items:
            click.echo(f"{failure.item}: {type(failure.error).__name__}: {failure.error}", err=True)
            if capture is not None:
                capture(failure.error, command, failure.item)
        if self.items and capture is not None:
            click.echo(f"Sent {len(self.items)} error(s) to Sentry.", err=True)


class BatchSummary:
    """What one batch run did: a count per outcome, and the failures (errors, reported apart from outcomes).

    Each job names its outcomes (``BatchSummary("updated", "unchanged", "missing")``); a count reads and
    changes as an attribute (``summary.updated += 1``).  A declined charge or a coupon left as it was is an
    outcome; an error is a :class:`Failure` in :attr:`failures`, which the command reports at the end.
    """

    def __init__(self, *outcomes: str) -> None:
        object.__setattr__(self, "outcomes", outcomes)
        object.__setattr__(self, "counts", dict.fromkeys(outcomes, 0))
        object.__setattr__(self, "failures", Failures())

    outcomes: tuple[str, ...]
    counts: dict[str, int]
    failures: Failures

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("counts", {})
        if name in counts:
            return int(counts[name])
        raise AttributeError(f"{name!r} is not an outcome of this batch ({', '.join(counts) or 'none'})")

    def __setattr__(self, name: str, value: int) -> None:
        if name not in self.counts:
            raise AttributeError(f"{name!r} is not an outcome of this batch ({', '.join(self.counts)})")
        self.counts[name] = value

    @property
    def errors(self) -> int:
        """How many items failed."""
        return len(self.failures)

    @property
    def total(self) -> int:
        """How many items the run looked at: every outcome and every failure."""
        return sum(self.counts.values()) + self.errors

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={count}" for name, count in self.counts.items())
        return f"BatchSummary({counts}, errors={self.errors})"


def _sentry_capture() -> Callable[[BaseException, str, str], None] | None:
    """A function sending one error to Sentry, or ``None`` when ``sentry_sdk`` is absent or not initialised."""
    try:
        import sentry_sdk
    except ImportError:
        return None
    if not sentry_sdk.is_initialized():
        return None

    def capture(error: BaseException, command: str, item: str) -> None:
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("flask_stripe_billing.command", command)
            scope.set_extra("item", item)
            sentry_sdk.capture_exception(error)

    return capture
