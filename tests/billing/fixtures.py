"""Fixtures shared by the billing and accounts tests: a database session and the demo dataset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.billing import demo
from app.billing.client import SqlBillingSource
from app.extensions import db
from tests.conftest import count_queries  # noqa: F401  (re-exported for the billing tests)

#: The fixed "today" of the domain tests; the demo's 24 billed months end in October 2026.
TODAY = date(2026, 11, 23)
#: Enough accounts for the documented pairs and a few occupant changes (every 37th account).
DEMO_ACCOUNTS = 40


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """The app's scoped session inside an application context."""
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def demo_data(db_session: Session) -> demo.DemoCounts:
    """A small demo dataset, committed."""
    counts = demo.load_demo(db_session, today=TODAY, accounts=DEMO_ACCOUNTS)
    db_session.commit()
    return counts


@pytest.fixture
def billing(db_session: Session) -> SqlBillingSource:
    """The embedded billing source on the test session."""
    return SqlBillingSource(lambda: db_session)
