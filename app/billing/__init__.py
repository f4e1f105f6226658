"""Utility-billing data: the connector to the billing system of record (the bill pages are ``app.bills``)."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app

from app.billing.client import BillingSource, SqlBillingSource
from app.core.clock import Clock
from app.core.config import get_settings


def init_app(app: Flask) -> None:
    """Put the billing source in ``app.extensions["billing"]``."""
    from app.billing.cache import CachedBillingSource
    from app.database.cache import Cache
    from app.database.db import db
    from app.database.reads import read_session

    source: BillingSource = SqlBillingSource(read_session, writer=lambda: db.session())
    ttl = get_settings(app).billing_cache_seconds
    store: Cache = app.extensions["cache"]
    if ttl > 0 and store.enabled:
        source = CachedBillingSource(source, store, ttl)
    app.extensions["billing"] = source


def billing_source() -> BillingSource:
    """This app's connector to the billing system."""
    source: BillingSource = current_app.extensions["billing"]
    return source


def city_today() -> date:
    """Today's date where the utility is (``CITY_TIMEZONE``), by the app's clock: due dates and months are local."""
    clock: Clock = current_app.extensions["clock"]
    return clock.today()
