"""The other linking proofs (``LINK_PROOF``): the current customer's last name, the last bill's amount."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.accounts import proofs, service
from app.accounts.models import AccountLink
from app.accounts.proofs import LinkProof
from app.billing import demo
from app.billing.client import SqlBillingSource
from app.billing.models import BillingAccount, BillingBill, BillingCustomer, BillingOccupancy
from app.billing.types import Tenure
from app.core.money import Money
from tests.accounts.test_service import ADDR, NOW, RULES, link, make_resident, outcomes
from tests.billing.fixtures import TODAY

BY_NAME = replace(RULES, proof=LinkProof.LAST_NAME)
BY_AMOUNT = replace(RULES, proof=LinkProof.LAST_BILL_AMOUNT)


def set_last_name(session: Session, customer_id: str, last_name: str) -> None:
    session.execute(update(BillingCustomer).filter_by(customer_id=customer_id).values(last_name=last_name))
    session.commit()


def last_bill(session: Session, account_no: str, customer_id: str) -> BillingBill:
    found = session.scalar(
        select(BillingBill)
        .where(BillingBill.account_no == account_no, BillingBill.customer_id == customer_id)
        .order_by(BillingBill.bill_date.desc(), BillingBill.bill_no.desc())
        .limit(1)
    )
    assert found is not None
    return found


def dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --- comparing what residents type --------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "O'Brien-Muñoz",
        "o'brien-muñoz",
        "OBRIEN MUNOZ",
        "  o brien   munoz ",
        "O\u2019Brien\u2010Mun\u0303oz",  # a typographic apostrophe and hyphen; ñ as n + combining tilde
        "OBrienMunoz",
        "\uff2f\uff22\uff32\uff29\uff25\uff2e\u3000\uff2d\uff35\uff2e\uff2f\uff3a",  # full-width, ideographic space
        "O.Brien, Munoz",
    ],
)
def test_last_names_compare_forgivingly(typed: str) -> None:
    assert proofs.fold_name(typed) == "obrienmunoz"
    assert proofs.name_matches(typed, "O\u2019Brien-Muñoz")


@pytest.mark.parametrize(("typed", "on_file"), [("Lukasiewicz", "Łukasiewicz"), ("Soren", "Søren"), ("GROSS", "Groß")])
def test_letters_without_a_decomposition_match_their_plain_spelling(typed: str, on_file: str) -> None:
    assert proofs.name_matches(typed, on_file)


@pytest.mark.parametrize(
    ("typed", "on_file"),
    [("O'Brien", "O'Brien-Munoz"), ("Munoz", "Muniz"), ("", ""), ("-", ""), ("Garcia", "")],
)
def test_other_names_and_empty_names_never_match(typed: str, on_file: str) -> None:
    assert not proofs.name_matches(typed, on_file)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("$1,234.50", 123450),
        ("1234.5", 123450),
        (" 1234.50 ", 123450),
        ("1 234.50", 123450),
        ("$ 84.50", 8450),
        ("84", 8400),
        ("84,50", 8450),  # a decimal comma: two digits after it are never a thousands group
        ("1,234", 123400),
        ("0.07", 7),
        (".5", None),
        ("-12.50", -1250),
        ("-$12.50", -1250),
        ("\u00a084.50\u2009", 8450),  # no-break and thin spaces pasted from a PDF
    ],
)
def test_amounts_are_parsed_forgivingly(typed: str, cents: int | None) -> None:
    if cents is None:
        with pytest.raises(proofs.InvalidProof):
            proofs.parse_bill_amount(typed)
    else:
        assert proofs.parse_bill_amount(typed) == cents


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "format"),
        ("12.345", "format"),
        ("1,23,4", "format"),
        ("$$5", "format"),
        ("1e3", "format"),
        ("12.3.4", "format"),
        ("\uff18\uff14.50", "format"),  # full-width digits
        ("1234567890", "format"),
    ],
)
def test_amounts_that_are_not_money_are_refused(typed: str, reason: str) -> None:
    with pytest.raises(proofs.InvalidProof) as info:
        proofs.parse_bill_amount(typed)
    assert info.value.reason == reason


def test_no_bill_or_a_zero_bill_never_matches() -> None:
    assert proofs.amount_matches("84.50", Money(8450))
    assert not proofs.amount_matches("84.51", Money(8450))
    assert not proofs.amount_matches("0", None)
    assert not proofs.amount_matches("0.00", Money(0))  # anyone could guess it
    assert not proofs.amount_matches("not money", Money(8450))


# --- the billing source's account holder --------------------------------------------------------------


def test_account_holder_is_the_current_customer(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    holder = billing.account_holder("100004")  # 2000004 moved out, 2000400 moved in
    assert holder is not None and holder.customer_id == "2000400"
    newest = last_bill(db_session, "100004", "2000400")
    assert holder.last_bill_amount == Money(newest.amount_cents)
    closed = billing.account_holder("100003")  # nobody lives there: its last customer
    assert closed is not None and closed.customer_id == "2000003"
    assert billing.account_holder("999999") is None


# --- linking by last name -----------------------------------------------------------------------------


def test_link_by_last_name_records_the_customer_id(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000001", "O\u2019Brien-Muñoz")
    rid = make_resident(db_session, "pat")
    created = link(db_session, billing, rid, "100-001", " obrien MUNOZ ", rules=BY_NAME)
    assert (created.account_no, created.customer_id) == ("100001", "2000001")
    assert outcomes(db_session, rid) == ["linked"]
    assert service.linked_summaries(db_session, billing, rid, today=TODAY)[1][("100001", "2000001")]


def test_last_name_is_the_current_customers_not_a_previous_occupants(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000004", "Previous")
    set_last_name(db_session, "2000400", "Newcomer")
    rid = make_resident(db_session, "pat")
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, rid, "100004", "Previous", rules=BY_NAME)
    assert link(db_session, billing, rid, "100004", "newcomer", rules=BY_NAME).customer_id == "2000400"
    assert outcomes(db_session, rid) == ["failed_not_found", "linked"]


def test_closed_account_links_by_its_last_customers_name(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000003", "Closed")
    rid = make_resident(db_session, "pat")
    assert link(db_session, billing, rid, "100003", "CLOSED", rules=BY_NAME).customer_id == "2000003"


def test_wrong_name_or_account_gives_the_same_error_and_counts(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000001", "Garcia")
    set_last_name(db_session, "2000005", "Nguyen")
    rid = make_resident(db_session, "pat")
    with pytest.raises(service.AccountNotFound) as wrong_name:
        link(db_session, billing, rid, "100001", "Nguyen", rules=BY_NAME)  # a real name, of another account
    with pytest.raises(service.AccountNotFound) as wrong_account:
        link(db_session, billing, rid, "999999", "Garcia", rules=BY_NAME)
    assert str(wrong_name.value) == str(wrong_account.value)
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, rid, "100001", "2000001", rules=BY_NAME)  # the customer ID is not the proof now
    assert service.check_attempt_limits(db_session, rid, ADDR, rules=replace(BY_NAME, failures_per_resident=3), now=NOW)
    assert outcomes(db_session, rid) == ["failed_not_found"] * 3


def test_empty_name_on_file_cannot_be_linked_by_name(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000001", "")
    rid = make_resident(db_session, "pat")
    for typed in ("", "-"):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", typed, rules=BY_NAME)


def test_wrong_names_are_limited_per_resident_and_per_address(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000001", "Garcia")
    rid = make_resident(db_session, "pat")
    for minute in range(5):
        with pytest.raises(service.AccountNotFound):
            link(
                db_session, billing, rid, "100001", f"Guess{minute}", rules=BY_NAME, now=NOW + timedelta(minutes=minute)
            )
    with pytest.raises(service.RateLimited) as info:
        link(db_session, billing, rid, "100001", "Garcia", rules=BY_NAME, now=NOW + timedelta(minutes=6))
    assert info.value.retry_at == NOW + timedelta(minutes=15)

    rules = replace(BY_NAME, failures_per_address=6)  # the five above came from the same address
    neighbour = make_resident(db_session, "neighbour")
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, neighbour, "100002", "Guess", rules=rules, now=NOW + timedelta(minutes=6))
    with pytest.raises(service.RateLimited):
        link(db_session, billing, neighbour, "100001", "Garcia", rules=rules, now=NOW + timedelta(minutes=7))
    elsewhere = link(db_session, billing, neighbour, "100001", "Garcia", rules=rules, addr="198.51.100.2", now=NOW)
    assert elsewhere.customer_id == "2000001"


# --- linking by the last bill's amount ----------------------------------------------------------------


def test_link_by_last_bill_amount_in_any_usual_form(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    bill = last_bill(db_session, "100001", "2000001")
    bill.amount_cents = 123450  # a four-figure amount, to type with a thousands comma
    db_session.commit()
    for n, typed in enumerate(("$1,234.50", "1234.5", " 1234.50 ", "1 234,50")):
        rid = make_resident(db_session, f"pat{n}")
        created = link(db_session, billing, rid, "100001", typed, rules=BY_AMOUNT)
        assert (created.account_no, created.customer_id) == ("100001", "2000001"), typed
        assert outcomes(db_session, rid) == ["linked"]


def test_an_older_bill_or_a_cent_off_is_refused(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    newest = last_bill(db_session, "100001", "2000001")
    older = db_session.scalar(
        select(BillingBill)
        .where(
            BillingBill.account_no == newest.account_no,
            BillingBill.customer_id == "2000001",
            BillingBill.amount_cents != newest.amount_cents,
        )
        .order_by(BillingBill.bill_date.desc())
        .limit(1)
    )
    assert older is not None
    rid = make_resident(db_session, "pat")
    for typed in (dollars(older.amount_cents), dollars(newest.amount_cents + 1), "0.00"):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", typed, rules=BY_AMOUNT)
    assert outcomes(db_session, rid) == ["failed_not_found"] * 3
    assert link(db_session, billing, rid, "100001", dollars(newest.amount_cents), rules=BY_AMOUNT)


def test_amount_is_the_current_customers_bill_and_a_newcomer_without_one_cannot_link(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    previous = last_bill(db_session, "100004", "2000004")
    current = last_bill(db_session, "100004", "2000400")
    previous.amount_cents = current.amount_cents + 100  # the previous occupant's final bill, on another amount
    db_session.commit()
    rid = make_resident(db_session, "pat")
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, rid, "100004", dollars(previous.amount_cents), rules=BY_AMOUNT)
    assert link(db_session, billing, rid, "100004", dollars(current.amount_cents), rules=BY_AMOUNT).customer_id == (
        "2000400"
    )

    # Someone moves into 100001 today: no bill of theirs yet, so the previous customer's bill proves nothing.
    account = db_session.scalar(select(BillingAccount).filter_by(account_no="100001"))
    assert account is not None
    db_session.execute(
        update(BillingOccupancy).filter_by(account_no=account.account_no, end_date=None).values(end_date=TODAY)
    )
    db_session.add(
        BillingCustomer(customer_id="7000001", name="Nora Newcomer", last_name="Newcomer", mailing_address="")
    )
    db_session.add(
        BillingOccupancy(account_no=account.account_no, customer_id="7000001", start_date=TODAY, end_date=None)
    )
    db_session.commit()
    bill = last_bill(db_session, "100001", "2000001")
    with pytest.raises(service.AccountNotFound):
        link(db_session, billing, rid, "100001", dollars(bill.amount_cents), rules=BY_AMOUNT)
    assert link(db_session, billing, rid, "100001", "Newcomer", rules=BY_NAME).customer_id == "7000001"


def test_account_without_bills_cannot_be_linked_by_amount(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    db_session.execute(delete(BillingBill).where(BillingBill.account_no == "100005"))
    db_session.commit()
    rid = make_resident(db_session, "pat")
    for typed in ("0.00", "0", "84.50"):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100005", typed, rules=BY_AMOUNT)
    assert db_session.scalar(select(AccountLink)) is None


def test_wrong_amounts_count_toward_the_limits(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    right = dollars(last_bill(db_session, "100001", "2000001").amount_cents)
    rid = make_resident(db_session, "pat")
    for cents in range(5):
        with pytest.raises(service.AccountNotFound):
            link(db_session, billing, rid, "100001", f"99999.{cents:02d}", rules=BY_AMOUNT)
    with pytest.raises(service.RateLimited):
        link(db_session, billing, rid, "100001", right, rules=BY_AMOUNT)
    assert outcomes(db_session, rid) == ["failed_not_found"] * 5 + ["rate_limited"]


# --- Pay Now --------------------------------------------------------------------------------------------


def test_guest_proof_returns_the_proved_customer_and_counts_per_account(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    set_last_name(db_session, "2000400", "Newcomer")
    rules = replace(BY_NAME, failures_per_resident=2)

    def guest(typed: str, addr: str) -> Tenure:
        return service.verify_guest(
            db_session, "100004", typed, billing=billing, rules=rules, client_addr=addr, now=NOW
        )

    tenure = guest("NEWCOMER", ADDR)
    assert (tenure.account_no, tenure.customer_id) == ("100004", "2000400")
    for n in range(2):
        with pytest.raises(service.AccountNotFound):
            guest("Guess", f"192.0.2.{n}")
    with pytest.raises(service.RateLimited):  # the account is being guessed at, from anywhere
        guest("Newcomer", "192.0.2.99")
