"""Linking rules: normalisation, verification, limits, audit and unlinking."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.models import AccountLink
from app.accounts.service import LinkRules
from app.activity.models import AccountEvent
from app.auth.models import Resident
from app.billing import demo
from app.billing.client import SqlBillingSource
from app.core.config import Settings

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
RULES = LinkRules.from_settings(Settings())  # the declared defaults
ADDR = "203.0.113.7"


def make_resident(session: Session, sub: str, *, verified: bool = True) -> int:
    resident = Resident(issuer="https://id.example", subject=sub, email=f"{sub}@example.org", email_verified=verified)
    session.add(resident)
    session.flush()
    return resident.id


def link(
    session: Session,
    billing: SqlBillingSource,
    resident_id: int,
    account_no: str,
    customer_id: str,
    *,
    rules: LinkRules = RULES,
    addr: str = ADDR,
    now: datetime = NOW,
) -> AccountLink:
    return service.link_account(
        session, resident_id, account_no, customer_id, billing=billing, rules=rules, client_addr=addr, now=now
    )


def outcomes(session: Session, resident_id: int) -> list[str]:
    return list(
        session.scalars(select(AccountEvent.outcome).filter_by(resident_id=resident_id).order_by(AccountEvent.id))
    )


@pytest.mark.parametrize(
    ("raw", "length", "expected"),
    [
        ("100001", 6, "100001"),
        (" 100 001 ", 6, "100001"),
        ("10-00-01", 6, "100001"),
        ("100.001", 6, "100001"),
        ("1\u2013000\u00a001", 6, "100001"),  # en dash and no-break space pasted from a PDF
        ("2-000-001", 7, "2000001"),
        ("1234", 6, "001234"),
        ("001234", 6, "001234"),
        ("0012", 0, "0012"),
        ("1", 7, "0000001"),
    ],
)
def test_normalise_number_is_forgiving(raw: str, length: int, expected: str) -> None:
    assert service.normalise_number(raw, length) == expected


@pytest.mark.parametrize(
    ("raw", "length", "reason"),
    [
        ("", 6, "empty"),
        (None, 6, "empty"),
        (" - . ", 6, "empty"),
        ("10000A", 6, "characters"),
        ("abc", 6, "characters"),
        ("\uff11\uff10\uff10\uff10\uff10\uff11", 6, "characters"),  # full-width digits
        ("\u0661\u0660\u0660", 6, "characters"),  # Arabic-Indic digits
        ("100001/", 6, "characters"),
        ("1000011", 6, "too_long"),
        ("1" * 21, 0, "too_long"),
    ],
)
def test_normalise_number_rejects(raw: str | None, length: int, reason: str) -> None:
    with pytest.raises(service.InvalidNumber) as info:
        service.normalise_number(raw, length)
    assert info.value.reason == reason


def test_link_with_documented_pair(db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    rid = make_resident(db_session, "pat")
    created = link(db_session, billing, rid, "100-001", "2000001")
    assert (created.account_no, created.customer_id) == ("100001", "2000001")
    assert [a.account_no for a in service.linked_accounts(db_session, rid)] == ["100001"]
    event = db_session.scalar(select(AccountEvent).filter_by(resident_id=rid))
    assert event is not None
    assert (event.outcome, event.account_no, event.client_addr) == ("linked", "100001", ADDR)


def test_link_closed_account(db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    rid = make_resident(db_session, "pat")
    assert link(db_session, billing, rid, "100003", "2000003").account_no == "100003"


def test_wrong_half_gives_the_same_error(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rid = make_resident(db_session, "pat")
    with pytest.raises(service.AccountNotFound) as wrong_customer:
        link(db_session, billing, rid, "100001", "2000003")  # a real customer of another account
    with pytest.raises(service.AccountNotFound) as wrong_account:
        link(db_session, billing, rid, "999999", "2000001")
    assert str(wrong_customer.value) == str(wrong_account.value)
    assert outcomes(db_session, rid) == ["failed_not_found", "failed_not_found"]
    assert service.linked_accounts(db_session, rid) == []


def test_unverified_email_cannot_link(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rid = make_resident(db_session, "una", verified=False)
    with pytest.raises(service.EmailNotVerified):
        link(db_session, billing, rid, "100001", "2000001")
    assert outcomes(db_session, rid) == ["failed_unverified"]


def test_already_linked_and_households(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    pat, sam = make_resident(db_session, "pat"), make_resident(db_session, "sam")
    link(db_session, billing, pat, "100001", "2000001")
    with pytest.raises(service.AlreadyLinked):
        link(db_session, billing, pat, "100001", "2000001")
    link(db_session, billing, sam, "100001", "2000001")  # a second member of the household
    assert outcomes(db_session, pat) == ["linked", "failed_already_linked"]
    assert len(service.linked_accounts(db_session, sam)) == 1


def test_link_limit(db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    rid = make_resident(db_session, "pat")
    rules = replace(RULES, max_links=2)
    link(db_session, billing, rid, "100001", "2000001", rules=rules)
    link(db_session, billing, rid, "100002", "2000001", rules=rules)
    with pytest.raises(service.TooManyLinks) as info:
        link(db_session, billing, rid, "100005", "2000005", rules=rules)
    assert info.value.limit == 2
    assert outcomes(db_session, rid)[-1] == "failed_limit"


def test_failures_per_resident_are_limited(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rid = make_resident(db_session, "pat")
    for minute in range(5):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", "2999999", now=NOW + timedelta(minutes=minute))
    later = NOW + timedelta(minutes=6)
    with pytest.raises(service.RateLimited) as info:
        link(db_session, billing, rid, "100001", "2000001", now=later)  # even the right pair waits
    assert info.value.retry_at == NOW + timedelta(minutes=15)
    # blocked attempts do not push the time back
    with pytest.raises(service.RateLimited) as again:
        link(db_session, billing, rid, "100001", "2000001", now=later + timedelta(minutes=1))
    assert again.value.retry_at == NOW + timedelta(minutes=15)
    assert link(db_session, billing, rid, "100001", "2000001", now=NOW + timedelta(minutes=15, seconds=1))
    assert outcomes(db_session, rid) == ["failed_not_found"] * 5 + ["rate_limited"] * 2 + ["linked"]


def test_failures_per_address_are_limited(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rules = replace(RULES, failures_per_address=3)
    for n in range(3):
        rid = make_resident(db_session, f"guesser{n}")
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", "2999999", rules=rules)
    neighbour = make_resident(db_session, "neighbour")
    with pytest.raises(service.RateLimited):
        link(db_session, billing, neighbour, "100001", "2000001", rules=rules)
    assert link(db_session, billing, neighbour, "100001", "2000001", rules=rules, addr="198.51.100.2")


def test_limits_are_counted_in_the_database(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rid = make_resident(db_session, "pat")
    for _ in range(5):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", "2999999")
    db_session.commit()
    db_session.expunge_all()  # as if another worker answered the next request
    assert service.check_attempt_limits(db_session, rid, "192.0.2.1", rules=RULES, now=NOW) is not None
    assert (
        service.check_attempt_limits(db_session, rid, "192.0.2.1", rules=RULES, now=NOW + timedelta(minutes=16)) is None
    )


def test_unlink_removes_only_own_link(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    pat, sam = make_resident(db_session, "pat"), make_resident(db_session, "sam")
    link(db_session, billing, pat, "100001", "2000001")
    link(db_session, billing, sam, "100001", "2000001")
    service.unlink_account(db_session, pat, "100001", client_addr=ADDR, now=NOW)
    assert service.get_link(db_session, pat, "100001") is None
    assert service.get_link(db_session, sam, "100001") is not None
    with pytest.raises(service.LinkNotFound):
        service.unlink_account(db_session, pat, "100001", client_addr=ADDR, now=NOW)
    with pytest.raises(service.LinkNotFound):
        service.unlink_account(db_session, pat, "100002", client_addr=ADDR, now=NOW)
    assert outcomes(db_session, pat) == ["linked", "unlinked"]


def test_recent_activity_is_own_and_newest_first(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    pat, sam = make_resident(db_session, "pat"), make_resident(db_session, "sam")
    link(db_session, billing, pat, "100001", "2000001", now=NOW)
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, sam, "100002", "2000009", now=NOW)
    service.unlink_account(db_session, pat, "100001", client_addr=ADDR, now=NOW + timedelta(minutes=1))
    activity = service.recent_activity(db_session, pat)
    assert [(e.outcome, e.account_no) for e in activity] == [("unlinked", "100001"), ("linked", "100001")]
