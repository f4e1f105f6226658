"""The billing outbox, as far as payments need it: ``record_change`` writes one row of ``portal_change``.

The function has the signature of ``app.billing.exchange.record_change`` (the extract exchange), so the
two are one when both are in place; ``flask billing export-changes`` sends the rows to the billing system.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.billing.models import PortalChange

#: Kinds of change payments write: a payment the processor accepted, and an Auto Pay enrolment's state.
PAYMENT = "payment"
AUTOPAY = "autopay"


def record_change(
    session: Session,
    kind: str,
    *,
    account_no: str,
    customer_id: str,
    field: str,
    value: str,
    resident_id: int | None,
    now: datetime,
) -> PortalChange:
    """Add a change to the outbox in the caller's transaction (so it exists if and only if the change does)."""
    change = PortalChange(
        kind=kind,
        account_no=account_no,
        customer_id=customer_id,
        field=field,
        value=value,
        resident_id=resident_id,
        created_at=now,
    )
    session.add(change)
    return change


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
    """Write one outbox row whose value is ``payload`` as compact JSON (field ``kind``; at most 200 characters)."""
    value = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    if len(value) > 200:
        raise ValueError("outbox payload longer than 200 characters")
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
