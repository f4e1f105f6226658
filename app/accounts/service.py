"""Linking utility-billing accounts to a resident: input rules, verification, attempt limits and audit.

Functions take plain values and a session, raise the domain errors below and ``flush()``; the caller
commits, also after an error, because the audit row of a failed attempt is what the limits count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, false, func, or_, select, text, update
from sqlalchemy.orm import Session

from app.accounts.models import AccountLink
from app.accounts.proofs import LinkProof, amount_matches, name_matches
from app.activity.models import AccountEvent, Outcome
from app.activity.service import recent_events, record_event
from app.auth.models import Resident
from app.billing.client import BillingSource, Pair
from app.billing.types import AccountSummary, Tenure
from app.core.clock import as_utc
from app.core.config import Settings
from app.core.refusals import Refused

#: Outcomes that count toward the attempt limits: only wrong pairs, i.e. possible guessing.
COUNTED_OUTCOMES = (Outcome.FAILED_NOT_FOUND, Outcome.FAILED_GUEST_NOT_FOUND)
#: From this many tries left the pages count them down ("2 tries left").
WARN_TRIES = 2

#: The longest number accepted when no length is configured (the column size).
MAX_DIGITS = 20
#: Spaces (any Unicode space), dashes (ASCII and typographic) and periods: stripped from input.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.]+")
_DIGITS = re.compile(r"[0-9]+")


class LinkError(Exception):
    """A link could not be made; the subclass says why."""


class EmailNotVerified(LinkError):
    """The resident's email is not verified at the provider, so they may not link accounts yet."""


class AccountNotFound(LinkError):
    """No account has that account number and proof (customer ID, ...); which half was wrong is not said.

    ``tries_left``: wrong pairs still allowed now under the tightest limit (resident, address or account);
    at 0, ``retry_at`` says when the next try is allowed.
    """

    def __init__(self, tries_left: int | None = None, retry_at: datetime | None = None) -> None:
        super().__init__("no account with that number and proof")
        self.tries_left = tries_left
        self.retry_at = retry_at


class AlreadyLinked(LinkError):
    """The resident has already linked this account."""


class TooManyLinks(LinkError):
    """The resident has linked as many accounts as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} linked accounts")
        self.limit = limit


class RateLimited(LinkError):
    """Too many failed attempts recently: by this resident, from this client address, or at this account."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"try again at {retry_at.isoformat()}")
        self.retry_at = retry_at


class LinkNotFound(LookupError):
    """The resident has no link to that account."""


class InvalidNumber(Refused, ValueError):
    """Input that cannot be an account number or customer ID; ``reason`` is empty, characters or too_long."""


@dataclass(frozen=True)
class LinkRules:
    """Format rules, the city's linking proof and limits (``length`` 0 means "no fixed length, no padding")."""

    account_length: int
    customer_length: int
    max_links: int
    failures_per_resident: int
    failures_per_address: int
    window: timedelta
    proof: LinkProof = LinkProof.CUSTOMER_ID
    failures_per_account: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkRules:
        """The rules the portal's settings declare."""
        return cls(
            account_length=settings.account_number_length,
            customer_length=settings.customer_id_length,
            max_links=settings.max_linked_accounts,
            failures_per_resident=settings.link_failures_per_resident,
            failures_per_address=settings.link_failures_per_address,
            window=timedelta(minutes=settings.link_failure_window_minutes),
            proof=LinkProof(settings.link_proof),
            failures_per_account=settings.link_failures_per_account,
        )


def normalise_number(raw: str | None, length: int = 0) -> str:
    """Strip spaces, dashes and periods, keep leading zeros, and left-pad with zeros to ``length``.

    Only the ASCII digits 0-9 are accepted: other Unicode digits look alike but are not on any bill.
    """
    value = _SEPARATORS.sub("", raw or "")
    if not value:
        raise InvalidNumber("empty")
    if not _DIGITS.fullmatch(value):
        raise InvalidNumber("characters")
    limit = length if length > 0 else MAX_DIGITS
    if len(value) > limit:
        raise InvalidNumber("too_long")
    return value.zfill(length) if length > 0 else value


def _account_number(raw: str | None, rules: LinkRules) -> tuple[str, bool]:
    """The normalised account number and True, or the input (stripped, to audit) and False when it is not one."""
    try:
        return normalise_number(raw, rules.account_length), True
    except InvalidNumber:
        return (raw or "").strip(), False


def proved_tenure(billing: BillingSource, account_no: str, proof: str, *, rules: LinkRules) -> Tenure | None:
    """The time on the account of the customer that ``proof`` (of the ``rules.proof`` kind) proves, or None.

    A customer ID must be one of the account's customers, past or present; a last name or a last bill amount
    is compared with the account's current customer (``BillingSource.account_holder``).
    """
    if rules.proof is LinkProof.CUSTOMER_ID:
        try:
            customer = normalise_number(proof, rules.customer_length)
        except InvalidNumber:
            return None
        return billing.find_tenure(account_no, customer)
    holder = billing.account_holder(account_no)
    if holder is None:
        return None
    if rules.proof is LinkProof.LAST_NAME:
        matched = name_matches(proof, holder.last_name)
    else:
        matched = amount_matches(proof, holder.last_bill_amount)
    return billing.find_tenure(account_no, holder.customer_id) if matched else None


def _retry_at(
    session: Session, condition: ColumnElement[bool], limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """When the ``limit``-th most recent counted failure leaves the window; None if under the limit."""
    if limit <= 0:
        return None
    times = session.scalars(
        select(AccountEvent.occurred_at)
        .where(
            condition,
            AccountEvent.outcome.in_(COUNTED_OUTCOMES),
            AccountEvent.occurred_at > now - window,
        )
        .order_by(AccountEvent.occurred_at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return None
    return as_utc(times[-1]) + window


Limit = tuple[ColumnElement[bool], int]


def _limits(rules: LinkRules, resident_id: int | None, client_addr: str, account_no: str | None) -> list[Limit]:
    """The counts a try is held to: the resident's, the client address's and the account's.

    The account's counts wrong pairs typed for that number by anyone (residents, guests) from anywhere. A
    guest (``resident_id`` None: Pay Now) has no count of their own; all guests together count as one resident
    at each account.
    """
    account = AccountEvent.account_no == (account_no or "")[:40]
    if resident_id is not None:
        limits = [(AccountEvent.resident_id == resident_id, rules.failures_per_resident)]
    else:
        limits = [(and_(AccountEvent.resident_id.is_(None), account), rules.failures_per_resident)]
    limits.append((AccountEvent.client_addr == client_addr[:64], rules.failures_per_address))
    if account_no is not None:
        limits.append((account, rules.failures_per_account))
    return limits


def _wait(session: Session, limits: list[Limit], window: timedelta, now: datetime) -> datetime | None:
    """When every limit allows a try again, or None when all allow one now."""
    blocked = [w for condition, limit in limits if (w := _retry_at(session, condition, limit, window, now)) is not None]
    return max(blocked) if blocked else None


def _not_found(session: Session, limits: list[Limit], window: timedelta, now: datetime) -> AccountNotFound:
    """The error for a wrong pair already recorded: the tries it leaves, and when a try is allowed at 0 left."""
    counts = session.execute(
        select(*(func.count().filter(condition) for condition, _ in limits)).where(
            or_(*(condition for condition, _ in limits)),
            AccountEvent.outcome.in_(COUNTED_OUTCOMES),
            AccountEvent.occurred_at > now - window,
        )
    ).one()
    left = max(min(limit - int(count or 0) for (_, limit), count in zip(limits, counts, strict=True)), 0)
    return AccountNotFound(left, _wait(session, limits, window, now) if left == 0 else None)


def check_attempt_limits(
    session: Session,
    resident_id: int,
    client_addr: str,
    *,
    rules: LinkRules,
    now: datetime,
    account_no: str | None = None,
) -> datetime | None:
    """The time the resident may try again (at ``account_no``, when given), or None when they may try now."""
    return _wait(session, _limits(rules, resident_id, client_addr, account_no), rules.window, now)


def link_account(
    session: Session,
    resident_id: int,
    account_no: str,
    proof: str,
    *,
    billing: BillingSource,
    rules: LinkRules,
    client_addr: str,
    now: datetime,
) -> AccountLink:
    """Link an account after checking the pair against the billing system; every outcome is audited.

    ``proof`` is the customer ID, last name or last bill amount, as the city's ``rules.proof`` says; the link
    records the proved customer's ID. Raises EmailNotVerified, RateLimited, AlreadyLinked, TooManyLinks or
    AccountNotFound, in that order.
    """
    account, valid = _account_number(account_no, rules)
    _lock_resident(session, resident_id)
    _lock_address(session, client_addr)
    _lock_account(session, account)
    resident = session.get(Resident, resident_id)
    if resident is None or not resident.email_verified:
        record_event(
            session,
            resident_id if resident else None,
            account,
            Outcome.FAILED_UNVERIFIED,
            client_addr=client_addr,
            now=now,
        )
        raise EmailNotVerified()
    limits = _limits(rules, resident_id, client_addr, account)
    retry_at = _wait(session, limits, rules.window, now)
    if retry_at is not None:
        record_event(session, resident_id, account, Outcome.RATE_LIMITED, client_addr=client_addr, now=now)
        raise RateLimited(retry_at)
    if get_link(session, resident_id, account) is not None:
        record_event(session, resident_id, account, Outcome.FAILED_ALREADY_LINKED, client_addr=client_addr, now=now)
        raise AlreadyLinked()
    count = session.scalar(select(func.count()).select_from(AccountLink).filter_by(resident_id=resident_id)) or 0
    if count >= rules.max_links:
        record_event(session, resident_id, account, Outcome.FAILED_LIMIT, client_addr=client_addr, now=now)
        raise TooManyLinks(rules.max_links)
    proved = proved_tenure(billing, account, proof, rules=rules) if valid else None
    if proved is None:
        record_event(session, resident_id, account, Outcome.FAILED_NOT_FOUND, client_addr=client_addr, now=now)
        raise _not_found(session, limits, rules.window, now)
    link = AccountLink(resident_id=resident_id, account_no=account, customer_id=proved.customer_id, created_at=now)
    session.add(link)
    _bump_links_version(session, resident_id)
    record_event(session, resident_id, account, Outcome.LINKED, client_addr=client_addr, now=now)
    return link


def verify_guest(
    session: Session,
    account_no: str,
    proof: str,
    *,
    billing: BillingSource,
    rules: LinkRules,
    client_addr: str,
    now: datetime,
) -> Tenure:
    """Check a pair typed by someone not signed in (Pay Now), under the limits linking uses; audited.

    Wrong pairs count against the client address (``failures_per_address``) and the account number
    (``failures_per_account``), both shared with linking, and guests' own at the account number
    (``failures_per_resident``: guests count as one resident). Raises RateLimited or AccountNotFound; returns
    the proved customer's time on the account.
    """
    account, valid = _account_number(account_no, rules)
    _lock_address(session, client_addr)
    _lock_account(session, account)
    limits = _limits(rules, None, client_addr, account)
    retry_at = _wait(session, limits, rules.window, now)
    if retry_at is not None:
        record_event(session, None, account, Outcome.FAILED_GUEST_RATE_LIMITED, client_addr=client_addr, now=now)
        raise RateLimited(retry_at)
    tenure = proved_tenure(billing, account, proof, rules=rules) if valid else None
    if tenure is None:
        record_event(session, None, account, Outcome.FAILED_GUEST_NOT_FOUND, client_addr=client_addr, now=now)
        raise _not_found(session, limits, rules.window, now)
    record_event(session, None, account, Outcome.GUEST_VERIFIED, client_addr=client_addr, now=now)
    return tenure


def _lock_resident(session: Session, resident_id: int) -> None:
    """Make simultaneous attempts by one resident take turns, so the limits and link count hold.

    A no-op UPDATE locks the row on PostgreSQL and takes SQLite's write lock; it must be the transaction's
    first statement (on SQLite a reader that later tries to write can deadlock instead of waiting).
    """
    session.execute(update(Resident).where(Resident.id == resident_id).values(id=Resident.id))


def _lock_address(session: Session, client_addr: str) -> None:
    """Make simultaneous attempts from one address take turns, so the per-address count and check are one step.

    PostgreSQL: a transaction-scoped advisory lock on the address, taken after the resident's row lock (always
    in that order, so two attempts never wait on each other in a cycle). SQLite: ``_lock_resident`` already
    holds the database's single write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"link-address:{client_addr[:64]}"}
        )


def _lock_account(session: Session, account_no: str) -> None:
    """Make simultaneous attempts at one account number take turns, so its count and check are one step.

    PostgreSQL: an advisory lock like the address's, always taken after it. SQLite: the database's single write
    lock, which linking already holds (``_lock_resident``) and Pay Now takes here, with its first statement.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"link-account:{account_no[:40]}"}
        )
    elif dialect == "sqlite":
        session.execute(update(AccountEvent).where(false()).values(id=AccountEvent.id))


def _bump_links_version(session: Session, resident_id: int) -> None:
    """Retire every cached page built from the resident's previous set of links (same transaction)."""
    session.execute(update(Resident).where(Resident.id == resident_id).values(links_version=Resident.links_version + 1))


def retire_kept_pages(session: Session, account_no: str) -> None:
    """Give every resident who linked the account a new links version, in the caller's transaction.

    No page or card kept for them (``app.bills.kept``) then shows the account as it was: call it with every
    change the portal makes to the account (bill delivery, payments, Auto Pay).
    """
    linked = select(AccountLink.resident_id).where(AccountLink.account_no == account_no)
    session.execute(
        update(Resident)
        .where(Resident.id.in_(linked))
        .values(links_version=Resident.links_version + 1)
        .execution_options(synchronize_session=False)
    )


def get_link(session: Session, resident_id: int, account_no: str) -> AccountLink | None:
    """The resident's own link to ``account_no``, or None (callers answer 404, never 403)."""
    return session.scalar(select(AccountLink).filter_by(resident_id=resident_id, account_no=account_no))


@dataclass(frozen=True)
class LinkedPair:
    """A resident's link as the pages read it (a plain row, no ORM object)."""

    account_no: str
    customer_id: str
    created_at: datetime


_LINKS = AccountLink.__table__
#: Built once: pages run these on every request, and building a statement costs more than running it.
LINKS_QUERY = (
    select(_LINKS.c.account_no, _LINKS.c.customer_id, _LINKS.c.created_at)
    .where(_LINKS.c.resident_id == bindparam("resident_id"))
    .order_by(_LINKS.c.created_at, _LINKS.c.id)
)
LINK_QUERY = select(_LINKS.c.account_no, _LINKS.c.customer_id, _LINKS.c.created_at).where(
    _LINKS.c.resident_id == bindparam("resident_id"), _LINKS.c.account_no == bindparam("account_no")
)


def linked_accounts(session: Session, resident_id: int) -> list[LinkedPair]:
    """The resident's links, in the order they were made."""
    rows = session.connection().execute(LINKS_QUERY, {"resident_id": resident_id})
    return [LinkedPair(*row) for row in rows]


def find_link(session: Session, resident_id: int, account_no: str) -> LinkedPair | None:
    """The resident's own link to ``account_no`` for reading (the bill pages), or None."""
    row = session.connection().execute(LINK_QUERY, {"resident_id": resident_id, "account_no": account_no}).first()
    return LinkedPair(*row) if row is not None else None


def unlink_account(session: Session, resident_id: int, account_no: str, *, client_addr: str, now: datetime) -> None:
    """Remove the resident's link to ``account_no`` (other residents' links stay); raises LinkNotFound."""
    link = get_link(session, resident_id, account_no)
    if link is None:
        raise LinkNotFound(account_no)
    session.delete(link)
    _bump_links_version(session, resident_id)
    record_event(session, resident_id, account_no, Outcome.UNLINKED, client_addr=client_addr, now=now)


def recent_activity(session: Session, resident_id: int, limit: int = 10) -> list[AccountEvent]:
    """The resident's latest link, unlink, failed-attempt and bill delivery events, newest first."""
    return recent_events(session, resident_id, limit)


def account_summaries(billing: BillingSource, pairs: Sequence[Pair], *, today: date) -> dict[Pair, AccountSummary]:
    """Summaries of many linked accounts, in a constant number of queries."""
    return billing.summaries(list(pairs), today=today) if pairs else {}


def linked_summaries(
    session: Session, billing: BillingSource, resident_id: int, *, today: date
) -> tuple[list[LinkedPair], dict[Pair, AccountSummary]]:
    """The resident's links and the billing system's summary of each (the home page and Account Settings)."""
    links = linked_accounts(session, resident_id)
    return links, account_summaries(billing, [(link.account_no, link.customer_id) for link in links], today=today)
