"""What payments write to the billing outbox: one row of ``portal_change`` through the exchange's ``record_change``.

``flask billing export-changes`` (``app.billing.exchange``) sends the rows to the billing system.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.service import retire_kept_pages
from app.billing.exchange import record_change
from app.billing.models import PortalChange

#: Kinds of change payments write: a payment the processor accepted, and an Auto Pay enrolment's state.
PAYMENT = "payment"
AUTOPAY = "autopay"
#: A payment already written as ``payment`` that was taken back (a returned bank debit, a dispute).
PAYMENT_RETURNED = "payment_returned"


def record_payload(
    session: Session,
    kind: str,
    account_no: str,
    customer_id: str,
    payload: dict[str, Any],
    *,
    resident_id: int | None,
    now: datetime,
) -> PortalChange:
    """Write one outbox row whose value is ``payload`` as compact JSON (field ``kind``; at most 200 characters).

    The pages kept for the account are retired in the same transaction (``retire_kept_pages``).
    """
    value = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    if len(value) > 200:
        raise ValueError("outbox payload longer than 200 characters")
    retire_kept_pages(session, account_no)
    return record_change(
        session,
        kind,
        account_no=account_no,
        customer_id=customer_id,
        field=kind,
        value=value,
        resident_id=resident_id,
        now=now,
    )
