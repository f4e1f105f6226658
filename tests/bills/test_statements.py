"""How many SQL statements each signed-in page runs: a fixed few, the session check always among them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.billing.pages import load_demo, post_link
from tests.support.apps import count_queries
from tests.support.signin import open_session

PAIRS = [("100001", "2000001"), ("100002", "2000001"), ("100003", "2000003")]
#: Building each page: the session and resident (one statement) plus what the page shows;
#: tests/perf/bench_home.py prints the same.
STATEMENTS = {
    "/": 4,  # links, their summaries, pending payments (announcements: kept in the process)
    "/accounts/100001": 10,  # link, summary, customer, tenure, services, latest bill, its payments, pending, Auto Pay
    "/accounts/100001/bills": 4,  # link, a page of bills, a page of payments
    "/accounts/100001/consumption": 4,  # link, summary (the customer's time), reads
}


@pytest.mark.parametrize(("path", "expected"), STATEMENTS.items())
def test_signed_in_pages_run_a_fixed_few_statements(make_app: Callable[..., Flask], path: str, expected: int) -> None:
    app = make_app(PAGE_CACHE_ENTRIES=0)  # no page kept: every request builds it
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    for account_no, customer_id in PAIRS:
        assert post_link(client, account_no, customer_id).status_code == 302  # type: ignore[attr-defined]
    client.get(path)  # first use: the linking message, the session's "last seen" write
    for _ in range(2):
        with count_queries(app) as queries:
            assert client.get(path).status_code == 200
        assert queries() == expected


@pytest.mark.parametrize("path", STATEMENTS)
def test_a_kept_page_runs_only_the_session_check(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], path: str
) -> None:
    load_demo(app)
    signed_in_as("pat")
    for account_no, customer_id in PAIRS:
        assert post_link(client, account_no, customer_id).status_code == 302  # type: ignore[attr-defined]
    client.get(path)  # the linking message: a page with one is never kept
    built = client.get(path).get_data(as_text=True)
    with count_queries(app) as queries:
        kept = client.get(path).get_data(as_text=True)
    assert queries() == 1 and kept == built


def test_without_keeping_announcements_the_home_page_reads_them(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(BILLING_CACHE_SECONDS=0)
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    client.get("/")
    with count_queries(app) as queries:
        home = client.get("/").get_data(as_text=True)
    assert queries() == 3 and "Announcements" in home  # the session, the links (none), the announcements
