"""Helpers for request tests of the account pages: demo data, links and page checks."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from app.accounts.models import AccountLink
from app.auth.models import Resident
from app.database.db import db
from tests.support.demo import load_demo
from tests.support.pages import csrf_token

__all__ = ["add_links", "assert_csp_clean", "load_demo", "post_link", "resident_id"]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def resident_id(app: Flask, sub: str) -> int:
    """The id of the resident who signed in as ``sub``."""
    with app.app_context():
        found = db.session.scalar(select(Resident.id).filter_by(subject=sub))
        assert found is not None
        return found


def add_links(app: Flask, rid: int, pairs: list[tuple[str, str]]) -> None:
    """Link pairs directly in the database (the link form is tested separately), raising the resident's
    links version as linking does, so no page kept for the old links is shown."""
    with app.app_context():
        db.session.add_all(AccountLink(resident_id=rid, account_no=a, customer_id=c) for a, c in pairs)
        db.session.execute(update(Resident).where(Resident.id == rid).values(links_version=Resident.links_version + 1))
        db.session.commit()


def post_link(client: FlaskClient, account_no: str, customer_id: str) -> TestResponse:
    """Submit Account Link Setup with a fresh CSRF token."""
    token = csrf_token(client, "/accounts/link")
    return client.post(
        "/accounts/link", data={"csrf_token": token, "account_no": account_no, "customer_id": customer_id}
    )


def assert_csp_clean(html: str) -> None:
    """No inline script and no style attribute: the CSP forbids both."""
    assert not INLINE_SCRIPT.search(html)
    assert "style=" not in html
