"""The portal's clock: every timestamp it stores is timezone-aware UTC, and "today" is the city's date.

Domain code never reads the machine's time itself. ``create_app`` gives each app one :class:`Clock`
(``app.extensions["clock"]``): the machine's time, or with ``CLOCK_START`` a clock that starts at that
instant and runs on in real time, so that demos, training sites and tests see the same calendar on
every day they run. Tokens from the identity provider are checked against the machine's time
(:mod:`app.auth.tokens`), because the provider stamps them with its own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

#: The hour of the day a bare ``CLOCK_START`` date means, in the city's time zone.
START_OF_DAY = time(9, 0)


class Clock:
    """Now and today for one app: the machine's time shifted so that it started at ``start`` (if given)."""

    def __init__(self, zone: ZoneInfo, start: datetime | None = None) -> None:
        self.zone = zone
        self.pinned = start is not None
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC) + self._offset

    def local_now(self) -> datetime:
        """The current instant in the city's time zone."""
        return self.now().astimezone(self.zone)

    def today(self) -> date:
        """Today's date where the utility is: bill and due dates, months and Auto Pay days are local dates."""
        return self.local_now().date()


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """``CLOCK_START``'s value as an aware instant: a date means 09:00 city time; a time without an offset
    is city time (the later of two readings of a repeated hour needs its offset, e.g. ``-06:00``).

    Raises ValueError for anything else, and for a city time that does not exist (a spring-forward gap).
    """
    text = text.strip()
    if len(text) == 10:
        moment = datetime.combine(date.fromisoformat(text), START_OF_DAY)
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{text} does not exist in {zone.key} (the clocks skip it)")
    return local.astimezone(UTC)


def make_clock(city_timezone: str, clock_start: str | None) -> Clock:
    """The clock of an app with these settings (``CITY_TIMEZONE``, ``CLOCK_START``), already checked."""
    zone = ZoneInfo(city_timezone)
    return Clock(zone, parse_instant(clock_start, zone) if clock_start else None)


def current_clock() -> Clock | None:
    """The current app's clock, or None outside an app."""
    if not has_app_context():
        return None
    found: Clock | None = current_app.extensions.get("clock")
    return found


def utcnow() -> datetime:
    """The current time, aware, in UTC: the app's clock inside an app, the machine's outside one."""
    clock = current_clock()
    return clock.now() if clock is not None else datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (SQLite returns those) as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
