"""Utility-billing data: the connector to the billing system of record (the bill pages are ``app.bills``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app

from app.billing.client import BillingSource, SqlBillingSource
from app.core.clock import Clock
from app.core.config import get_settings

if TYPE_CHECKING:
    from app.billing.types import AccountSummary


class LinkedAccount(Protocol):
    """A resident's link to an account, as the bill pages need it (``app.accounts`` keeps the links)."""

    @property
    def account_no(self) -> str: ...

    @property
    def customer_id(self) -> str: ...


#: ``(resident_id, account_no) -> the resident's own link or None``, registered by the accounts feature.
LinkLookup = Callable[[int, str], LinkedAccount | None]
#: ``(account_no, customer_id, summary) -> values for the Account Summary page``, registered by features
#: above billing in ``app.extensions["billing_summary_extras"]`` (payments: pending payments, what is owed after
#: them, Pay button).
SummaryExtras = Callable[[str, str, "AccountSummary"], dict[str, Any]]


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


def own_link(resident_id: int, account_no: str) -> LinkedAccount | None:
    """The resident's own link to ``account_no``, looked up where the links are kept (``accounts``).

    The lookup is registered in ``app.extensions["account_links"]`` so that the bill pages sit above the
    linking rules without billing importing accounts (which imports billing to check numbers).
    """
    lookup: LinkLookup = current_app.extensions["account_links"]
    return lookup(resident_id, account_no)


def summary_extras(account_no: str, customer_id: str, summary: AccountSummary) -> dict[str, Any]:
    """What the features above billing add to an Account Summary (none registered: no Pay button, nothing pending)."""
    values: dict[str, Any] = {"pending": [], "owed_cents": None, "can_pay": False}
    hooks: list[SummaryExtras] = current_app.extensions.get("billing_summary_extras", [])
    for hook in hooks:
        values.update(hook(account_no, customer_id, summary))
    return values


def billing_source() -> BillingSource:
    """This app's connector to the billing system."""
    source: BillingSource = current_app.extensions["billing"]
    return source


def city_today() -> date:
    """Today's date where the utility is (``CITY_TIMEZONE``), by the app's clock: due dates and months are local."""
    clock: Clock = current_app.extensions["clock"]
    return clock.today()
