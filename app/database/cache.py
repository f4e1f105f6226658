"""A shared cache in Redis (``REDIS_URL``) for data every instance may show a little stale.

Nothing that correctness depends on is kept here: sessions, attempt counters and the logout-token replay
cache stay in the database. A cache that is not configured, or that fails, is a miss: pages read the
database instead, and a failing Redis is skipped for ``CACHE_RETRY_SECONDS`` rather than slowing every
request down.

Every key carries the cache epoch, a number kept in the database (``cache_epoch``) and read with each
request's session lookup. When forgetting something fails (Redis hangs or is down while a change is
saved), the epoch is raised: every instance and worker then reads and writes new keys at once, and what
the failed delete should have removed is never read again (it expires by its time to live).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import BigInteger, Column, Integer, Table, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.core.config import get_settings
from app.database.db import db
from app.database.reads import read_engine

log = logging.getLogger(__name__)

#: One row (id 1): the epoch every cache key starts with, raised when a forget fails.
EPOCH = Table(
    "cache_epoch",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)
#: The current epoch (0 before it was ever raised), as a scalar subquery the session lookup selects too.
EPOCH_QUERY = select(func.coalesce(func.max(EPOCH.c.n), 0)).where(EPOCH.c.id == 1).scalar_subquery()


def remember_epoch(epoch: int | None) -> None:
    """Keep the epoch the session lookup read for the rest of this request."""
    g.cache_epoch = int(epoch or 0)


def _current_epoch() -> int:
    """This request's epoch (read once per request); raises SQLAlchemyError when the database fails."""
    if has_request_context() and "cache_epoch" in g:
        return int(g.cache_epoch)
    with read_engine().connect() as conn:
        epoch = int(conn.execute(select(EPOCH_QUERY)).scalar_one())
    if has_request_context():
        g.cache_epoch = epoch
    return epoch


def raise_epoch() -> bool:
    """Move every instance to new keys (in its own committed transaction); False when the database failed."""
    try:
        with db.engine.begin() as conn:
            if conn.execute(update(EPOCH).where(EPOCH.c.id == 1).values(n=EPOCH.c.n + 1)).rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(EPOCH.insert().values(id=1, n=1))
                except IntegrityError:  # inserted at the same moment by another instance
                    conn.execute(update(EPOCH).where(EPOCH.c.id == 1).values(n=EPOCH.c.n + 1))
    except SQLAlchemyError as exc:
        log.warning("cache epoch not raised: %s", type(exc).__name__)
        return False
    if has_request_context():
        g.pop("cache_epoch", None)
    return True


@dataclass(frozen=True)
class Group:
    """Values that are kept together, at most ``cap`` of them at a time: a new one beyond that pushes out the
    group's oldest, never anyone else's (one browser session's pages)."""

    name: str
    cap: int


class Cache(Protocol):
    """Byte values by string key, with a time to live."""

    #: False for the stand-in used without Redis: every read misses, so wrapping a source in it is pointless.
    enabled: bool

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` in order; None for each miss."""
        ...

    def set_many(self, values: Mapping[str, bytes], ttl: int, *, group: Group | None = None) -> None:
        """Store ``values`` for ``ttl`` seconds, as members of ``group`` when one is given."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many."""
        ...


class NullCache:
    """No cache: every read is a miss (``REDIS_URL`` unset)."""

    enabled = False

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [None] * len(keys)

    def set_many(self, values: Mapping[str, bytes], ttl: int, *, group: Group | None = None) -> None:
        return None

    def delete_prefix(self, prefix: str) -> int:
        return 0


class ProcessCache:
    """Values kept in this process's memory for their time to live: shared data that changes rarely
    (the announcements) when no Redis is configured. Each worker process has its own, so nothing kept here
    may need forgetting across processes before its time to live ends.

    When it is full, the oldest values go (each cache's values share one time to live, so what has expired goes
    first): one visitor's new values push out at most the oldest others, and a group's (a session's pages)
    only that group's own beyond its cap.
    """

    enabled = True

    def __init__(self, max_entries: int = 256) -> None:
        #: key -> (expires, value, group name), oldest first.
        self._values: OrderedDict[str, tuple[float, bytes, str | None]] = OrderedDict()
        #: group name -> its keys, oldest first.
        self._groups: dict[str, OrderedDict[str, None]] = {}
        self._max_entries = max_entries

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = time.monotonic()
        found: list[bytes | None] = []
        for key in keys:
            entry = self._values.get(key)
            found.append(entry[1] if entry is not None and entry[0] > now else None)
        return found

    def set_many(self, values: Mapping[str, bytes], ttl: int, *, group: Group | None = None) -> None:
        cap = min(self._max_entries, group.cap) if group is not None else self._max_entries
        if len(values) > cap:
            return
        expires = time.monotonic() + ttl
        for key, value in values.items():
            self._drop(key)
            self._values[key] = (expires, value, group.name if group else None)
            if group is not None:
                self._groups.setdefault(group.name, OrderedDict())[key] = None
        if group is not None:
            members = self._groups[group.name]
            while len(members) > group.cap:
                self._drop(next(iter(members)))
        while len(self._values) > self._max_entries:  # the oldest first, so what has expired goes first
            self._drop(next(iter(self._values)))

    def _drop(self, key: str) -> None:
        entry = self._values.pop(key, None)
        if entry is not None and entry[2] is not None:
            members = self._groups.get(entry[2])
            if members is not None:
                members.pop(key, None)
                if not members:
                    del self._groups[entry[2]]

    def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in list(self._values) if key.startswith(prefix)]
        for key in doomed:
            self._drop(key)
        return len(doomed)


class EpochProcessCache(ProcessCache):
    """This process's memory for values whose keys name every version they depend on (a resident's
    ``links_version``, the day, the language), when no Redis is configured. Each key starts with the cache
    epoch, which every import raises, so a worker never serves what another process's change replaced.
    """

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        start = _epoch_start()
        return [None] * len(keys) if start is None else super().get_many([start + key for key in keys])

    def set_many(self, values: Mapping[str, bytes], ttl: int, *, group: Group | None = None) -> None:
        start = _epoch_start()
        if start is not None:
            super().set_many({start + key: value for key, value in values.items()}, ttl, group=group)


def _epoch_start() -> str | None:
    """``"<epoch>:"``, or None when the epoch cannot be read (then nothing is read or kept)."""
    try:
        return f"{_current_epoch()}:"
    except SQLAlchemyError:
        return None


class RedisCache:
    """Redis with short timeouts; any Redis error is logged once, counted as a miss, and Redis is rested."""

    enabled = True

    def __init__(self, url: str, *, prefix: str, timeout: float, retry_after: float) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self.prefix = prefix
        self._retry_after = retry_after
        self._down_until = 0.0
        #: Prefixes whose forgetting failed: their keys may hold what a change replaced, so they are misses
        #: until the delete goes through (retried before every read).
        self._unforgotten: set[str] = set()

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        if self._usable():
            log.warning("cache unavailable, reading the database for %ss: %s", self._retry_after, type(exc).__name__)
        self._down_until = time.monotonic() + self._retry_after

    def _keys(self) -> str | None:
        """The start of every key in this epoch, or None when the epoch cannot be read (a miss)."""
        start = _epoch_start()
        return None if start is None else self.prefix + start

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys or not self._usable() or not self._forget_pending():
            return [None] * len(keys)
        start = self._keys()
        if start is None:
            return [None] * len(keys)
        try:
            values = self._redis.mget([start + key for key in keys])
        except self._errors as exc:
            self._failed(exc)
            return [None] * len(keys)
        return [value if isinstance(value, bytes) else None for value in values]

    def _forget_pending(self) -> bool:
        """Retry the deletes that failed; True when none is left (only then may anything be read)."""
        for prefix in list(self._unforgotten):
            if not self._delete(prefix):
                return False
            self._unforgotten.discard(prefix)
        return True

    def set_many(self, values: Mapping[str, bytes], ttl: int, *, group: Group | None = None) -> None:
        start = self._keys() if values and self._usable() else None
        if start is None:
            return
        try:
            if group is None:
                with self._redis.pipeline(transaction=False) as pipe:
                    for key, value in values.items():
                        pipe.set(start + key, value, ex=ttl)
                    pipe.execute()
            else:
                self._set_in_group(start, values, ttl, group)
        except self._errors as exc:
            self._failed(exc)

    def _set_in_group(self, start: str, values: Mapping[str, bytes], ttl: int, group: Group) -> None:
        """Store the values and list them in the group's index (a sorted set by expiry, which lives as long as
        its newest member); then delete the group's oldest beyond its cap."""
        index = start + group.name
        now = time.time()
        with self._redis.pipeline(transaction=True) as pipe:
            for key, value in values.items():
                pipe.set(start + key, value, ex=ttl)
                pipe.zadd(index, {start + key: now + ttl})
            pipe.zremrangebyscore(index, "-inf", now)
            pipe.expire(index, ttl)
            pipe.zcard(index)
            size = int(pipe.execute()[-1])
        if size > group.cap:
            popped: Any = self._redis.zpopmin(index, size - group.cap)
            oldest = [member for member, _score in popped]
            if oldest:
                self._redis.delete(*oldest)

    def delete_prefix(self, prefix: str) -> int:
        deleted = self._delete(prefix)
        if deleted is None and not raise_epoch():  # new keys everywhere, or (database down too) misses here
            self._unforgotten.add(prefix)
        return deleted or 0

    def _delete(self, prefix: str) -> int | None:
        """Delete the keys under ``prefix``; how many, or None when Redis failed (or is resting)."""
        if not self._usable():
            return None
        deleted = 0
        try:
            batch: list[bytes] = []
            # Every epoch's keys: an older epoch's are never read again, but need not wait for their TTL.
            for key in self._redis.scan_iter(match=f"{self.prefix}*:{prefix}*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += int(self._redis.delete(*batch))
                    batch = []
            if batch:
                deleted += int(self._redis.delete(*batch))
        except self._errors as exc:
            self._failed(exc)
            return None
        return deleted


def _decode(raw: bytes | None) -> str | None:
    """Stored text, or None for a miss or a value that is not UTF-8 (not ours: rebuilt)."""
    try:
        return raw.decode("utf-8") if raw is not None else None
    except UnicodeDecodeError:
        return None


def cached_texts(
    store: Cache, builders: Mapping[str, Callable[[], str]], ttl: int, *, group: Group | None = None
) -> dict[str, str]:
    """Each key's text from the cache (one round trip for all), building and storing the missing ones
    (as members of ``group``, when given)."""
    keys = list(builders)
    stored = store.get_many(keys) if ttl > 0 else [None] * len(keys)
    texts: dict[str, str] = {}
    missing: dict[str, bytes] = {}
    for key, raw in zip(keys, stored, strict=True):
        text = _decode(raw)
        if text is None:
            text = builders[key]()
            missing[key] = text.encode("utf-8")
        texts[key] = text
    if ttl > 0:
        store.set_many(missing, ttl, group=group)
    return texts


def init_app(app: Flask) -> None:
    """Put the configured cache in ``app.extensions["cache"]``."""
    settings = get_settings(app)
    store: Cache = NullCache()
    if settings.redis_url:
        store = RedisCache(
            settings.redis_url,
            prefix=settings.cache_key_prefix,
            timeout=settings.cache_timeout,
            retry_after=settings.cache_retry_seconds,
        )
    app.extensions["cache"] = store
    app.extensions["shared_cache"] = store if store.enabled else ProcessCache()
    app.extensions["versioned_cache"] = store if store.enabled else EpochProcessCache(settings.page_cache_entries)


def cache() -> Cache:
    """This app's cache."""
    found: Cache = current_app.extensions["cache"]
    return found


def versioned_cache() -> Cache:
    """Where values whose keys carry every version they depend on are kept: Redis when configured, else
    this process's memory, each key under the cache epoch (see :class:`EpochProcessCache`).
    """
    found: Cache = current_app.extensions["versioned_cache"]
    return found


def shared_cache() -> Cache:
    """Where data shared by every visitor is kept: Redis when configured, else this process's memory.

    Only for what may be shown up to its time to live late in the other processes (announcements).
    """
    found: Cache = current_app.extensions["shared_cache"]
    return found
