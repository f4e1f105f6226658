"""Read models for the staff console. Plain values in, plain rows out; no request state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from app.accounts.models import AccountLink
from app.activity.models import FAILURES, AccountEvent, Outcome
from app.auth.models import PortalSession, Resident
from app.billing.models import BillingCustomer


@dataclass(frozen=True)
class Overview:
    """Headline numbers for the console's front page."""

    residents: int
    verified_residents: int
    linked_accounts: int
    failed_attempts_24h: int
    active_sessions: int


@dataclass(frozen=True)
class AuditRow:
    """One account event with the resident's email for display."""

    occurred_at: datetime
    email: str | None
    resident_id: int | None
    account_no: str
    outcome: Outcome
    client_addr: str


def overview(session: Session, now: datetime) -> Overview:
    """Count residents, links, recent failed attempts and live sessions."""
    failed = AccountEvent.outcome.in_(sorted(FAILURES))
    row = session.execute(
        select(
            select(func.count()).select_from(Resident).scalar_subquery(),
            select(func.count()).select_from(Resident).where(Resident.email_verified.is_(True)).scalar_subquery(),
            select(func.count()).select_from(AccountLink).scalar_subquery(),
            select(func.count())
            .select_from(AccountEvent)
            .where(failed, AccountEvent.occurred_at >= now - timedelta(hours=24))
            .scalar_subquery(),
            select(func.count())
            .select_from(PortalSession)
            .where(PortalSession.resident_id.is_not(None), PortalSession.expires_at > now)
            .scalar_subquery(),
        )
    ).one()
    return Overview(*(int(value or 0) for value in row))


def audit_trail(session: Session, *, resident_id: int | None = None, limit: int = 50) -> list[AuditRow]:
    """The latest account events, newest first, optionally for one resident."""
    statement = (
        select(AccountEvent, Resident.email)
        .outerjoin(Resident, Resident.id == AccountEvent.resident_id)
        .order_by(AccountEvent.occurred_at.desc(), AccountEvent.id.desc())
        .limit(limit)
    )
    if resident_id is not None:
        statement = statement.where(AccountEvent.resident_id == resident_id)
    return [
        AuditRow(event.occurred_at, email, event.resident_id, event.account_no, event.outcome, event.client_addr)
        for event, email in session.execute(statement)
    ]


def find_residents(session: Session, query: str, limit: int = 50) -> list[Resident]:
    """Residents whose email or name contains ``query``, who linked an account whose number or holder's name
    (the billing read model's customer) it matches, case-insensitive, by email."""
    text = query.strip().lower()
    needle = f"%{text}%"
    digits = "".join(ch for ch in text if ch.isdigit())
    holder: ColumnElement[bool] = AccountLink.customer_id.in_(
        select(BillingCustomer.customer_id).where(func.lower(BillingCustomer.name).like(needle))
    )
    if digits and len(digits) == len(text.replace(" ", "").replace("-", "")):
        # An account number as printed: the links store it normalised, with or without leading zeros.
        holder = or_(
            holder,
            AccountLink.account_no == digits,
            func.ltrim(AccountLink.account_no, "0") == digits.lstrip("0"),
        )
    linked = select(AccountLink.resident_id).where(holder)
    return list(
        session.scalars(
            select(Resident)
            .where(
                or_(
                    func.lower(Resident.email).like(needle),
                    func.lower(Resident.given_name).like(needle),
                    func.lower(Resident.family_name).like(needle),
                    func.lower(Resident.given_name + " " + Resident.family_name).like(needle),
                    Resident.id.in_(linked),
                )
            )
            .order_by(Resident.email)
            .limit(limit)
        )
    )


def resident_links(session: Session, resident_id: int) -> list[AccountLink]:
    """The accounts a resident linked, oldest first."""
    return list(
        session.scalars(
            select(AccountLink).where(AccountLink.resident_id == resident_id).order_by(AccountLink.created_at)
        )
    )


def active_session_count(session: Session, resident_id: int, now: datetime) -> int:
    """How many unexpired portal sessions the resident has."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(PortalSession)
            .where(PortalSession.resident_id == resident_id, PortalSession.expires_at > now)
        )
        or 0
    )
