"""Wrong pairs are counted per account number too: across residents, Pay Now guests and client addresses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.accounts import service
from app.accounts.service import COUNTED_OUTCOMES, LinkError
from app.activity.models import AccountEvent
from app.billing import demo
from app.billing.client import SqlBillingSource
from app.database.db import db
from tests.accounts.test_service import NOW, RULES, link, make_resident
from tests.billing.pages import load_demo, post_link
from tests.support.pages import csrf_token, html_page
from tests.support.signin import open_session


def counted(session: Session, account_no: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AccountEvent)
        .where(AccountEvent.account_no == account_no, AccountEvent.outcome.in_(COUNTED_OUTCOMES))
    )


def test_six_residents_on_six_addresses_share_one_accounts_limit(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    """The issue's case: each resident stays under their own limit and each address under its own.

    ``LINK_FAILURES_PER_ACCOUNT``'s default (10) holds them all.
    """
    rules = replace(RULES, failures_per_resident=5, failures_per_address=30)
    outcomes: list[str] = []
    for n in range(6):
        rid = make_resident(db_session, f"guesser-{n}")
        for minute in range(5):
            try:
                link(db_session, billing, rid, "100001", f"29{n}{minute:04d}", rules=rules, addr=f"192.0.2.{n}",
                     now=NOW + timedelta(minutes=minute))  # fmt: skip
            except service.AccountNotFound:
                outcomes.append("wrong")
            except service.RateLimited:
                outcomes.append("paused")
    assert outcomes == ["wrong"] * 10 + ["paused"] * 20
    assert counted(db_session, "100001") == 10
    owner = make_resident(db_session, "owner")
    with pytest.raises(service.RateLimited) as info:  # the right pair waits too, from anywhere
        link(db_session, billing, owner, "100001", "2000001", rules=rules, addr="198.51.100.9", now=NOW)
    assert info.value.retry_at == NOW + rules.window  # when the oldest counted failure leaves the window
    assert link(db_session, billing, rid, "100002", "2000001", rules=rules, addr="198.51.100.9", now=NOW)


def test_guests_and_residents_count_toward_the_same_account(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rules = replace(RULES, failures_per_account=4)

    def guest(typed: str, addr: str) -> None:
        service.verify_guest(db_session, "100001", typed, billing=billing, rules=rules, client_addr=addr, now=NOW)

    for n in range(2):
        with pytest.raises(service.AccountNotFound):
            guest(f"299999{n}", f"192.0.2.{n}")
    rid = make_resident(db_session, "pat")
    with pytest.raises(service.AccountNotFound) as third:
        link(db_session, billing, rid, "100001", "2999990", rules=rules, addr="192.0.2.50")
    assert third.value.tries_left == 1
    with pytest.raises(service.AccountNotFound) as last:
        guest("2999993", "192.0.2.60")
    assert last.value.tries_left == 0 and last.value.retry_at == NOW + rules.window
    with pytest.raises(service.RateLimited):
        guest("2000001", "192.0.2.70")
    with pytest.raises(service.RateLimited):
        link(db_session, billing, make_resident(db_session, "sam"), "100001", "2000001", rules=rules, addr="192.0.2.80")


def test_tries_left_is_the_smallest_of_the_limits(
    db_session: Session, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    rules = replace(RULES, failures_per_resident=3, failures_per_address=30, failures_per_account=10)
    rid = make_resident(db_session, "pat")
    left = []
    for n in range(3):
        with pytest.raises(service.AccountNotFound) as info:
            link(db_session, billing, rid, f"10000{n + 1}", "2999999", rules=rules)
        left.append((info.value.tries_left, info.value.retry_at))
    assert left == [(2, None), (1, None), (0, NOW + rules.window)]  # the resident's own limit comes first


def test_simultaneous_guesses_at_one_account_from_everywhere_stop_at_the_limit(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    rules = replace(RULES, failures_per_resident=5, failures_per_address=30)  # and 10 per account, the default
    with app.app_context():
        residents = [make_resident(db.session, f"guesser-{n}") for n in range(30)]
        db.session.commit()
        engine = db.engine
        barrier = threading.Barrier(len(residents) + 10)
        errors: list[BaseException] = []

        def guess(resident_id: int | None, addr: str) -> None:
            with app.app_context(), Session(engine) as session:
                barrier.wait()
                billing = SqlBillingSource(lambda: session)
                try:
                    if resident_id is None:
                        service.verify_guest(
                            session, "999999", "9999999", billing=billing, rules=rules, client_addr=addr, now=NOW
                        )
                    else:
                        service.link_account(
                            session, resident_id, "999999", "9999999",
                            billing=billing, rules=rules, client_addr=addr, now=NOW,
                        )  # fmt: skip
                except LinkError:
                    pass
                except BaseException as exc:  # a database error would be a 500 in the view
                    errors.append(exc)
                session.commit()

        jobs = [(r, f"192.0.2.{n}") for n, r in enumerate(residents)] + [(None, f"198.51.100.{n}") for n in range(10)]
        threads = [threading.Thread(target=guess, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert counted(db.session, "999999") == 10


# --- what the pages say ------------------------------------------------------------------------------


def submit_pay_now(client: FlaskClient, account_no: str, customer_id: str) -> TestResponse:
    token = csrf_token(client, "/pay")
    return client.post("/pay", data={"csrf_token": token, "account_no": account_no, "customer_id": customer_id})


def test_linking_warns_before_the_last_tries_and_says_when_the_pause_ends(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_FAILURES_PER_RESIDENT=10, LINK_FAILURES_PER_ACCOUNT=4)
    load_demo(app)
    pat, sam = app.test_client(), app.test_client()
    open_session(pat, "pat")
    open_session(sam, "sam")
    first = html_page(post_link(pat, "100001", "2999999"))
    assert "We couldn't find an account" in first.text and " left." not in first.text
    assert "2 tries left" in html_page(post_link(sam, "100001", "2999998")).text  # another resident, same account
    assert "1 try left" in html_page(post_link(pat, "100001", "2999997")).text
    last = html_page(post_link(sam, "100001", "2999996"))
    assert "that was the last try for now" in last.text
    assert "Please try again after 11/23/26, 9:15 AM Central Standard Time" in last.text
    blocked = post_link(pat, "100001", "2000001")
    assert blocked.status_code == 429
    assert "Please try again after 11/23/26, 9:15 AM Central Standard Time." in html_page(blocked).text
    spanish = pat.get("/accounts/link", headers={"Accept-Language": "es"})
    assert spanish.status_code == 200
    token = csrf_token(pat, "/accounts/link")
    again = pat.post(
        "/accounts/link",
        data={"csrf_token": token, "account_no": "100001", "customer_id": "2000001"},
        headers={"Accept-Language": "es"},
    )
    assert again.status_code == 429 and "9:15 hora estándar central" in html_page(again).text


def test_pay_now_warns_before_the_last_tries_and_counts_with_linking(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_FAILURES_PER_ACCOUNT=3)
    load_demo(app)
    resident, guest = app.test_client(), app.test_client()
    open_session(resident, "pat")
    post_link(resident, "100001", "2999999")  # one wrong pair while linking
    warned = html_page(submit_pay_now(guest, "100001", "2999998"))
    assert warned.status == 200 and "1 try left" in warned.text
    last = html_page(submit_pay_now(guest, "100001", "2999997"))
    assert "that was the last try for now" in last.text and "Central Standard Time" in last.text
    blocked = submit_pay_now(guest, "100001", "2000001")
    assert blocked.status_code == 429 and "Central Standard Time" in html_page(blocked).text
