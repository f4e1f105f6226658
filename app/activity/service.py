"""Recording and reading account events. Plain values and a session; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.activity.models import AccountEvent, Outcome


def record_event(
    session: Session, resident_id: int | None, account_no: str, outcome: Outcome, *, client_addr: str, now: datetime
) -> AccountEvent:
    """Add an event (values cut to their columns) and flush."""
    event = AccountEvent(
        resident_id=resident_id,
        account_no=account_no[:40],
        occurred_at=now,
        client_addr=client_addr[:64],
        outcome=outcome,
    )
    session.add(event)
    session.flush()
    return event


def recent_events(session: Session, resident_id: int, limit: int = 10) -> list[AccountEvent]:
    """The resident's latest events, newest first."""
    return list(
        session.scalars(
            select(AccountEvent)
            .filter_by(resident_id=resident_id)
            .order_by(AccountEvent.occurred_at.desc(), AccountEvent.id.desc())
            .limit(limit)
        )
    )
