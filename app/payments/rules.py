"""What every part of payments shares: the methods, limits and fees, who may pay, cents, and the values passed on."""

from __future__ import annotations

from dataclasses import dataclass

from app.billing.types import AccountSummary
from app.core.fees import Fee
from app.core.refusals import Refused

METHODS = ("card", "ach")


class PaymentError(Refused):
    """A payment cannot be made; ``reason`` says why (amount, method, not_allowed)."""


@dataclass(frozen=True)
class PaymentRules:
    """Limits and fees from configuration."""

    min_cents: int = 100
    max_cents: int = 500_000
    fees: tuple[tuple[str, Fee], ...] = (("card", Fee()), ("ach", Fee()))

    def fee(self, method: str) -> Fee:
        """The fee for ``method``."""
        return dict(self.fees).get(method, Fee())


@dataclass(frozen=True)
class Urls:
    """Where the processor sends the resident back, and where it posts webhooks."""

    success: str
    cancel: str
    webhook: str


@dataclass(frozen=True)
class Notice:
    """An email to send after the commit (``app.payments.notices`` writes it)."""

    to: str
    kind: str  #: over_max, charged, failed; receipt, processing, bank_failed, returned (``charges.notice_for``)
    account_no: str
    amount_cents: int
    max_cents: int | None = None
    receipt_no: str = ""
    failure: str = ""


def can_pay(summary: AccountSummary) -> bool:
    """Only the customer who still lives at an open account pays it here (a previous occupant calls the office)."""
    return not summary.is_closed and summary.tenure.is_current
