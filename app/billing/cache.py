"""Account summaries kept in the shared cache for ``BILLING_CACHE_SECONDS``.

Summaries are what the home page shows for every linked account on every visit, so they are read from the
cache first and from the billing source only on a miss. Keys carry the account, the customer and the
city's date (amounts due depend on it). The home page's rendered fragments live under the same prefix
(``app.home.cache``), because they are built from billing data.
Loading new billing data clears them all (``clear_billing_cache``). Everything else goes straight to the
billing source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from app.billing.client import BillingSource, Pair
from app.billing.types import AccountHolder, AccountSummary, Bill, Customer, Payment, Reading, Service, Tenure
from app.core.money import Money
from app.database.cache import Cache, raise_epoch

#: Key namespace of everything here; the version in each key changes when the value's shape does.
PREFIX = "billing:"
SUMMARY = PREFIX + "summary:v1:"


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def encode_summary(summary: AccountSummary) -> bytes:
    """JSON for one summary (never pickle: the cache is not trusted to run code)."""
    tenure = summary.tenure
    return json.dumps(
        {
            "account_no": summary.account_no,
            "customer_id": summary.customer_id,
            "service_address": summary.service_address,
            "route": summary.route,
            "status": summary.status,
            "bill_delivery": summary.bill_delivery,
            "current_balance": summary.current_balance.cents,
            "amount_due_now": summary.amount_due_now.cents,
            "due_date": summary.due_date.isoformat() if summary.due_date else None,
            "last_bill_date": summary.last_bill_date.isoformat() if summary.last_bill_date else None,
            "tenure": [tenure.start.isoformat(), tenure.end.isoformat() if tenure.end else None],
        },
        separators=(",", ":"),
    ).encode()


def _money(cents: Any) -> Money:
    """Integer cents as the cache keeps them (a float, a string or anything else is no summary)."""
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise TypeError("not integer cents")
    return Money(cents)


def decode_summary(raw: bytes) -> AccountSummary | None:
    """The summary in ``raw``, or None when it is not one (treated as a miss)."""
    try:
        data: dict[str, Any] = json.loads(raw)
        start, end = data["tenure"]
        return AccountSummary(
            account_no=data["account_no"],
            customer_id=data["customer_id"],
            service_address=data["service_address"],
            route=data["route"],
            status=data["status"],
            bill_delivery=data["bill_delivery"],
            current_balance=_money(data["current_balance"]),
            amount_due_now=_money(data["amount_due_now"]),
            due_date=_day(data["due_date"]),
            last_bill_date=_day(data["last_bill_date"]),
            tenure=Tenure(data["account_no"], data["customer_id"], date.fromisoformat(start), _day(end)),
        )
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None


def summary_key(pair: Pair, today: date) -> str:
    """The cache key of one pair's summary on ``today``."""
    return f"{SUMMARY}{pair[0]}:{pair[1]}:{today.isoformat()}"


class CachedBillingSource:
    """A ``BillingSource`` whose summaries come from the cache when they can."""

    def __init__(self, inner: BillingSource, cache: Cache, ttl: int) -> None:
        self.inner = inner
        self._cache = cache
        self._ttl = ttl

    def summaries(self, pairs: Sequence[Pair], *, today: date) -> dict[Pair, AccountSummary]:
        """Cached summaries, fetching only the missing pairs (in one call) and storing them."""
        pairs = list(dict.fromkeys(pairs))
        found: dict[Pair, AccountSummary] = {}
        missing: list[Pair] = []
        for pair, raw in zip(pairs, self._cache.get_many([summary_key(p, today) for p in pairs]), strict=True):
            summary = decode_summary(raw) if raw is not None else None
            if summary is None:
                missing.append(pair)
            else:
                found[pair] = summary
        if missing:
            fetched = self.inner.summaries(missing, today=today)
            found.update(fetched)
            self._cache.set_many({summary_key(p, today): encode_summary(s) for p, s in fetched.items()}, self._ttl)
        return found

    def find_tenure(self, account_no: str, customer_id: str) -> Tenure | None:
        """Always asked of the billing source: linking must see the system of record."""
        return self.inner.find_tenure(account_no, customer_id)

    def account_holder(self, account_no: str) -> AccountHolder | None:
        """Always asked of the billing source, like ``find_tenure``."""
        return self.inner.account_holder(account_no)

    def customer(self, customer_id: str) -> Customer | None:
        return self.inner.customer(customer_id)

    def services(self, account_no: str, customer_id: str) -> list[Service]:
        return self.inner.services(account_no, customer_id)

    def bills(self, account_no: str, customer_id: str, *, limit: int | None = None, offset: int = 0) -> list[Bill]:
        return self.inner.bills(account_no, customer_id, limit=limit, offset=offset)

    def bill(self, account_no: str, customer_id: str, bill_no: str) -> Bill | None:
        return self.inner.bill(account_no, customer_id, bill_no)

    def payments(
        self,
        account_no: str,
        customer_id: str,
        *,
        bill_no: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Payment]:
        return self.inner.payments(account_no, customer_id, bill_no=bill_no, limit=limit, offset=offset)

    def readings(self, account_no: str, customer_id: str, *, since: date) -> list[Reading]:
        return self.inner.readings(account_no, customer_id, since=since)

    def set_bill_delivery(self, account_no: str, delivery: str) -> None:
        self.inner.set_bill_delivery(account_no, delivery)

    def forget(self, account_no: str) -> None:
        """Drop the account's cached summaries, for every customer and day (call after the commit)."""
        self._cache.delete_prefix(f"{SUMMARY}{account_no}:")
        self.inner.forget(account_no)


def clear_billing_cache(cache: Cache) -> int:
    """Forget everything under the billing prefix (after new data is loaded), home-page fragments too.

    The cache epoch is raised first: every instance and worker then uses new keys, so even what each
    process keeps in its own memory without Redis is never read again.
    """
    raise_epoch()
    return cache.delete_prefix(PREFIX)
