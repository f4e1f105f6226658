"""The demo dataset in tests: loaded once per session into a template, then copied into each test's database.

``load_demo(app)`` and the ``demo_data`` fixture give a test the same rows as ``app.billing.demo.load_demo``
would. While the test's database is still the empty schema they copy a template holding them (built the first
time with the real ``load_demo``); once the test has written anything they load the demo the real way on top.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from app.billing import city_today, demo
from app.billing.client import SqlBillingSource
from app.database.db import db
from tests.support.config import CLOCK_START
from tests.support.databases import EXTENSION, PortalDatabase

#: The fixed "today" of the suite (the date of every test app's ``CLOCK_START``); the demo's 24 billed months end
#: in October 2026.
TODAY = date.fromisoformat(CLOCK_START[:10])
#: Enough accounts for the documented pairs and a few occupant changes (every 37th account).
DEMO_ACCOUNTS = 40


def load_demo_into(app: Flask, *, today: date, accounts: int) -> demo.DemoCounts:
    """Load the demo for ``today`` into ``app``'s database and commit: from a template when it is untouched."""
    database: PortalDatabase | None = app.extensions.get(EXTENSION)
    if database is not None and database.untouched():
        counts: demo.DemoCounts = database.restore(f"demo_{today:%Y%m%d}_{accounts}", lambda: _load(today, accounts))
        return counts
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        return _load(today, accounts)  # on the session the caller may already be using
    with app.app_context():
        return _load(today, accounts)


def _load(today: date, accounts: int) -> demo.DemoCounts:
    counts = demo.load_demo(db.session, today=today, accounts=accounts)
    db.session.commit()
    return counts


def load_demo(app: Flask, accounts: int = DEMO_ACCOUNTS) -> None:
    """Load a small demo dataset for the app's today (its clock) and commit, outside any request."""
    with app.app_context():
        today = city_today()
    load_demo_into(app, today=today, accounts=accounts)


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """The app's scoped session inside an application context."""
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def demo_data(app: Flask, db_session: Session) -> demo.DemoCounts:
    """A small demo dataset for :data:`TODAY`, committed."""
    return load_demo_into(app, today=TODAY, accounts=DEMO_ACCOUNTS)


@pytest.fixture
def billing(db_session: Session) -> SqlBillingSource:
    """The embedded billing source on the test session."""
    return SqlBillingSource(lambda: db_session)
