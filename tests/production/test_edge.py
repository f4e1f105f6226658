"""Hostile bytes at the edge: NUL characters and huge ids answer 404 or 400, never a 500 with a traceback.

Run on PostgreSQL too (``make test``), which refuses NUL in text and integers past 2**31 - 1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.pages import csrf_token

STAFF = {"realm_access": {"roles": ["resident", "staff"]}}

GETS = (
    ("/accounts/%00", 404),
    ("/accounts/12%0034/bills", 404),
    ("/accounts/100001/bills/%00", 404),
    ("/accounts/%00/delivery", 404),
    ("/accounts/%00/consumption", 404),
    ("/accounts/%0D%0A", 404),
    ("/staff/residents?q=%00", 400),
    ("/staff/residents?q=a%00b", 400),
    ("/staff/residents/2147483648", 404),
    ("/staff/residents/99999999999999999999999", 404),
    ("/language/%00", 404),
    ("/help?next=%00", 400),
)


def _assert_clean(response: TestResponse, status: int, capfd: pytest.CaptureFixture[str]) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(("path", "status"), GETS)
def test_hostile_urls_answer_404_or_400(
    client: FlaskClient,
    login_as: Callable[..., TestResponse],
    capfd: pytest.CaptureFixture[str],
    path: str,
    status: int,
) -> None:
    login_as("edgy", **STAFF)
    _assert_clean(client.get(path), status, capfd)


def test_hostile_posts_answer_404_or_400(
    client: FlaskClient, login_as: Callable[..., TestResponse], capfd: pytest.CaptureFixture[str]
) -> None:
    login_as("edgy", **STAFF)
    token = csrf_token(client, "/accounts/link")
    _assert_clean(client.post("/accounts/%00/remove", data={"csrf_token": token}), 404, capfd)
    _assert_clean(client.post("/staff/residents/2147483648/sign-out", data={"csrf_token": token}), 404, capfd)
    form = {"csrf_token": token, "account_no": "100\x00001", "customer_id": "2000001"}
    _assert_clean(client.post("/accounts/link", data=form), 400, capfd)
    # The page still works for what is sent next.
    assert client.get("/accounts/link").status_code == 200
