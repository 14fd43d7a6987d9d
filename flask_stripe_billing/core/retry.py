"""The one retry policy of the batch commands: how often a transient Stripe error is tried again, and how long
to wait before each new try (doubling from a first pause, up to a ceiling).

The gateway itself retries network errors ``STRIPE_MAX_NETWORK_RETRIES`` times with the same idempotency key
and paces every request under ``STRIPE_REQUESTS_PER_SECOND``; a batch command retries on top of that, per item,
so that one rate-limited or lost answer does not turn into a failure while the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Try at most *attempts* times; before try ``n + 1`` wait ``first * 2**(n - 1)`` seconds, at most *ceiling*."""

    attempts: int
    first: float = 0.5
    ceiling: float = 8.0

    def gives_up_after(self, tries: int) -> bool:
        """Whether *tries* failed tries are all the policy allows."""
        return tries >= self.attempts

    def pause(self, tries: int) -> float:
        """The wait after *tries* failed tries (1 for the first failure)."""
        return float(min(self.ceiling, self.first * 2.0 ** (tries - 1)))


#: A 429 from Stripe: the gateway's limiter already slowed every thread; a few more tries, pausing a little.
RATE_LIMITED = Backoff(attempts=6)

#: A request whose answer was lost: the same request with the same key, twice more.
OUTCOME_UNKNOWN = Backoff(attempts=3)
