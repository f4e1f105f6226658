"""Kept pages stay bounded: only for the query parameters a page reads, and a capped number per session.

With the real Redis at ``TEST_REDIS_URL`` (under a key prefix of the test's own) and without Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from app.billing.models import BillingBill, BillingPayment
from app.bills.kept import PAGES_PER_SESSION
from app.database.cache import Group, ProcessCache, RedisCache
from app.database.db import db
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.apps import count_queries
from tests.support.signin import open_session

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in the test Redis (which must answer), emptied afterwards."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); start it or set TEST_REDIS_URL")
    value = f"test-{uuid.uuid4().hex}:"
    yield value
    RedisCache(REDIS_URL, prefix=value, timeout=2, retry_after=0).delete_prefix("")


#: Pages of bills and of payments in :func:`long_history` (bill history shows 24 of each a page).
PAGES = 26


def long_history(app: Flask) -> None:
    """Give 100001 some 600 older bills and payments, so that its bill history has :data:`PAGES` pages of each
    (a page past the last is not found, and only pages that exist are kept)."""
    first = date(2020, 1, 5)
    bills = [
        {
            "bill_no": f"OLD{n:04d}",
            "account_no": "100001",
            "customer_id": "2000001",
            "bill_date": first + timedelta(days=n),
            "due_date": first + timedelta(days=n + 20),
            "amount_cents": 1000,
            "balance_cents": 0,
        }
        for n in range(PAGES * 24)
    ]
    payments = [
        {
            "payment_id": f"OLD{n:04d}-1",
            "account_no": "100001",
            "customer_id": "2000001",
            "bill_no": None,
            "posted_on": first + timedelta(days=n),
            "amount_cents": 1000,
            "method": "Check",
            "reference": None,
        }
        for n in range(PAGES * 24)
    ]
    with app.app_context():
        db.session.execute(insert(BillingBill), bills)
        db.session.execute(insert(BillingPayment), payments)
        db.session.commit()


def signed_in(app: Flask, sub: str) -> FlaskClient:
    client = app.test_client()
    open_session(client, sub)
    add_links(app, resident_id(app, sub), [("100001", "2000001")])
    return client


def stored(prefix: str) -> tuple[int, int]:
    """How many kept pages the test's prefix holds, and the bytes Redis spends on everything under it."""
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    pages = [k for k in keys if b":billing:page:" in k and b":session:" not in k]
    return len(pages), sum(int(r.memory_usage(k) or 0) for k in keys)


def test_one_session_adds_a_bounded_number_of_pages_to_redis(make_app: Callable[..., Flask], prefix: str) -> None:
    app = make_app(REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    load_demo(app)
    long_history(app)
    client = signed_in(app, "pat")
    for n in range(150):  # parameters the summary does not read: built every time, kept never
        assert client.get(f"/accounts/100001?utm_source={n}").status_code == 200
    assert stored(prefix)[0] == 0
    for n in range(120):  # the bill history reads both pagers: kept, up to the session's cap
        assert client.get(f"/accounts/100001/bills?page={n // 5 + 1}&payments_page={n % 5 + 1}").status_code == 200
    pages, size = stored(prefix)
    assert pages == PAGES_PER_SESSION
    assert size < PAGES_PER_SESSION * 40_000, f"{size:,} bytes"  # before: some 22 KB for every distinct query
    with count_queries(app) as queries:  # the newest are the ones kept
        assert client.get("/accounts/100001/bills?page=24&payments_page=5").status_code == 200
    assert queries() == 1


@pytest.mark.parametrize("query", ["page=2&page=3", "page=2&", "page=%32", "payments_page=2&page=2&x="])
def test_other_spellings_of_a_query_are_not_kept(make_app: Callable[..., Flask], prefix: str, query: str) -> None:
    app = make_app(REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    load_demo(app)
    long_history(app)
    client = signed_in(app, "pat")
    first = client.get(f"/accounts/100001/bills?{query}")
    assert first.status_code == 200 and client.get(f"/accounts/100001/bills?{query}").data == first.data
    assert stored(prefix)[0] == 0
    client.get("/accounts/100001/bills?page=2")
    assert stored(prefix)[0] == 1


def test_without_redis_one_session_cannot_push_out_everyone_elses_pages(make_app: Callable[..., Flask]) -> None:
    app = make_app(PAGE_CACHE_ENTRIES=100)
    load_demo(app)
    long_history(app)
    sam = signed_in(app, "sam")
    for path in ("/", "/accounts/100001", "/accounts/100001/bills"):
        sam.get(path)
    pat = signed_in(app, "pat")
    for n in range(300):
        assert pat.get(f"/accounts/100001/bills?page={n // PAGES + 1}&payments_page={n % PAGES + 1}").status_code == 200
    for path in ("/", "/accounts/100001", "/accounts/100001/bills"):
        with count_queries(app) as queries:
            assert sam.get(path).status_code == 200
        assert queries() == 1, f"{path} was built again"  # still kept: the session check only


def test_a_groups_values_push_out_only_its_own_oldest() -> None:
    store = ProcessCache(max_entries=8)
    store.set_many({"other:1": b"1", "other:2": b"2"}, 60)
    session = Group("session-a", 3)
    for n in range(10):
        store.set_many({f"a:{n}": b"page"}, 60, group=session)
    assert store.get_many(["other:1", "other:2"]) == [b"1", b"2"]
    assert store.get_many([f"a:{n}" for n in range(10)]) == [None] * 7 + [b"page"] * 3
    store.set_many({f"b:{n}": b"x" for n in range(3)}, 60, group=Group("session-b", 3))
    store.set_many({"other:3": b"3"}, 60)  # full: the oldest value goes, not all of them
    assert store.get_many(["other:1", "other:2", "other:3"]) == [None, b"2", b"3"]
