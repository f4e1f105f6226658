"""Bill delivery: paperless (bills by email) or paper bills by mail, chosen by the account's current customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.accounts.service import retire_kept_pages
from app.activity.models import Outcome
from app.activity.service import record_event
from app.billing.client import BillingSource
from app.billing.exchange import BILL_DELIVERY, record_change
from app.billing.types import AccountSummary
from app.core.refusals import Refused

EMAIL = "email"
PAPER = "paper"
CHOICES = (EMAIL, PAPER)


class DeliveryError(Refused):
    """The change cannot be made; ``reason`` says why."""


@dataclass(frozen=True)
class DeliveryChange:
    """What changed: the account, the new delivery, and whether it differs from before."""

    account_no: str
    delivery: str
    changed: bool


def can_change(summary: AccountSummary) -> bool:
    """Only the customer who still lives at an open account chooses how its bills are delivered."""
    return not summary.is_closed and summary.tenure.is_current


def change_delivery(
    session: Session,
    billing: BillingSource,
    summary: AccountSummary,
    delivery: str,
    *,
    resident_id: int,
    email_verified: bool,
    client_addr: str,
    now: datetime,
) -> DeliveryChange:
    """Record the resident's choice with the billing system, in the outbox and the audit trail; the caller commits.

    The pages kept for the account are retired in the same transaction. Raises DeliveryError("choice") for an
    unknown choice, ("closed") when the resident may not change it, and ("unverified") for paperless without a
    verified email address.
    """
    if delivery not in CHOICES:
        raise DeliveryError("choice")
    if not can_change(summary):
        raise DeliveryError("closed")
    if delivery == EMAIL and not email_verified:
        raise DeliveryError("unverified")
    if delivery == summary.bill_delivery:
        return DeliveryChange(summary.account_no, delivery, changed=False)
    billing.set_bill_delivery(summary.account_no, delivery)
    retire_kept_pages(session, summary.account_no)
    record_change(
        session,
        BILL_DELIVERY,
        account_no=summary.account_no,
        customer_id=summary.customer_id,
        field="bill_delivery",
        value=delivery,
        resident_id=resident_id,
        now=now,
    )
    outcome = Outcome.PAPERLESS_ON if delivery == EMAIL else Outcome.PAPERLESS_OFF
    record_event(session, resident_id, summary.account_no, outcome, client_addr=client_addr, now=now)
    return DeliveryChange(summary.account_no, delivery, changed=True)
