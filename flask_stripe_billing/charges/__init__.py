"""Charges and refunds: one-off payments that are never made twice.

Read in protocol order: :mod:`.checks` (is the row chargeable?) -> :mod:`.claims` (``pending`` -> ``in_flight``,
the idempotency key committed first) -> :mod:`.send` (one PaymentIntent request, :mod:`.intents` for its
parameters and lookups) -> :mod:`.from_stripe` (Stripe's answer -> row) -> :mod:`.refunds` -> :mod:`.runner`
(``flask stripe charge``: many charges, overlap-safe).
"""

from .checks import check_charge_input, check_chargeable
from .refunds import REFUND_WAIT, refund, settle_refunds
from .runner import run_charges
from .send import charge, charge_subscriber, refresh_charge

__all__ = [
    "REFUND_WAIT",
    "charge",
    "charge_subscriber",
    "check_charge_input",
    "check_chargeable",
    "refresh_charge",
    "refund",
    "run_charges",
    "settle_refunds",
]
