"""The portal's clock: the machine's, or one a deployment pins with ``CLOCK_START`` (refused in production)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from app.billing import city_today
from app.core.clock import Clock, parse_instant, utcnow
from app.core.config import ConfigError

CHICAGO = ZoneInfo("America/Chicago")


def test_a_pinned_clock_starts_there_and_runs_on() -> None:
    start = datetime(2026, 11, 30, 23, 59, 59, 900_000, tzinfo=CHICAGO)
    clock = Clock(CHICAGO, start.astimezone(UTC))
    first = clock.now()
    assert abs((first - start).total_seconds()) < 1 and clock.today() == date(2026, 11, 30)
    time.sleep(0.15)
    assert clock.now() > first and clock.today() == date(2026, 12, 1)  # it runs on, into the next day


def test_the_machines_clock_when_nothing_is_pinned() -> None:
    clock = Clock(CHICAGO)
    assert not clock.pinned and abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-23", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),  # a date: 09:00 city time (CST)
        ("2026-07-04T12:00:00", datetime(2026, 7, 4, 17, 0, tzinfo=UTC)),  # CDT
        ("2026-11-01T01:30:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),  # the first 01:30 of fall back
        ("2026-11-01T01:30:00-06:00", datetime(2026, 11, 1, 7, 30, tzinfo=UTC)),  # the second, by its offset
        ("2026-12-01T05:30:00+00:00", datetime(2026, 12, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_clock_start_is_read_as_city_time_unless_it_has_an_offset(text: str, instant: datetime) -> None:
    assert parse_instant(text, CHICAGO) == instant


@pytest.mark.parametrize("text", ["2027-03-14T02:30:00", "tomorrow", "2026-02-30", "2026-11-23T25:00"])
def test_a_clock_start_that_is_no_time_in_the_city_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="CLOCK_START must be"):
        create_app({"DATABASE_URL": "sqlite://", "CLOCK_START": text})


def test_production_refuses_a_pinned_clock() -> None:
    with pytest.raises(ConfigError, match="CLOCK_START must not be set in production"):
        create_app({"PORTAL_ENV": "production", "DATABASE_URL": "sqlite://", "CLOCK_START": "2026-11-23"})


def test_the_app_and_its_timestamps_follow_the_pinned_clock() -> None:
    app = create_app({"DATABASE_URL": "sqlite://", "CLOCK_START": "2028-02-29T23:30:00"})
    with app.app_context():
        assert city_today() == date(2028, 2, 29)
        assert utcnow().astimezone(CHICAGO).replace(second=0, microsecond=0) == datetime(
            2028, 2, 29, 23, 30, tzinfo=CHICAGO
        )
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 1  # outside an app: the machine's
