"""The shared Redis cache: what it keeps, when it lets go, and that pages never depend on it.

These tests talk to the real Redis at ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), each under a
key prefix of its own. A missing Redis fails them: it never skips them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app.billing import billing_source, city_today
from app.billing.cache import CachedBillingSource, decode_summary, encode_summary, summary_key
from app.billing.client import SqlBillingSource
from app.core.config import ConfigError
from app.database.cache import RedisCache, cache
from app.database.reads import read_session
from tests.billing.fixtures import count_queries
from tests.billing.pages import load_demo, post_link
from tests.support.config import base_config
from tests.support.pages import csrf_token, csrf_token_from
from tests.support.ports import free_port
from tests.support.signin import open_session, sign_in

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis, checked to answer; the suite fails (never skips) without it."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); start it or set TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, emptied afterwards."""
    value = f"test-{uuid.uuid4().hex}:"
    yield value
    RedisCache(redis_url, prefix=value, timeout=2, retry_after=0).delete_prefix("")


@pytest.fixture
def app(make_app: Callable[..., Flask], redis_url: str, prefix: str) -> Flask:
    """A portal app with the Redis cache (replaces the suite's cache-less ``app``)."""
    built = make_app(REDIS_URL=redis_url, CACHE_KEY_PREFIX=prefix)
    load_demo(built)
    return built


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def keys(redis_url: str, prefix: str) -> list[str]:
    """The stored keys without the prefix and the cache epoch that starts each of them."""
    stored = redis.Redis.from_url(redis_url).scan_iter(match=prefix + "*")
    return sorted(k.decode()[len(prefix) :].split(":", 1)[1] for k in stored)


def test_warm_home_page_reads_only_the_session(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], redis_url: str, prefix: str
) -> None:
    signed_in_as("pat")
    assert post_link(client, "100001", "2000001").status_code == 302  # type: ignore[attr-defined]
    assert post_link(client, "100002", "2000001").status_code == 302  # type: ignore[attr-defined]
    client.get("/")  # fills the cache (and shows the "now linked" message once)
    stored = keys(redis_url, prefix)
    assert any(k.startswith("billing:home:v1:accounts:") for k in stored)
    assert any(k.startswith("billing:home:v1:announcements:") for k in stored)
    assert any(k.startswith("billing:summary:v1:100001:2000001:") for k in stored)
    with count_queries(app) as queries:
        second = client.get("/").get_data(as_text=True)
    assert queries() == 1  # the session and resident, in one statement
    assert client.get("/").get_data(as_text=True) == second
    assert "Account 100001" in second and "Account 100002" in second and "Announcements" in second


def test_linking_and_removing_show_at_once(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    assert card("100002") not in client.get("/").get_data(as_text=True)  # cached now
    post_link(client, "100002", "2000001")
    home = client.get("/").get_data(as_text=True)
    assert card("100001") in home and card("100002") in home
    token = csrf_token(client, "/accounts/100001/remove")
    assert client.post("/accounts/100001/remove", data={"csrf_token": token}).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert card("100001") not in home and card("100002") in home


def card(account_no: str) -> str:
    """The heading of an account's card on the home page."""
    return f'<h3 class="usa-card__heading">Account {account_no}</h3>'


def test_residents_never_share_cached_cards(app: Flask) -> None:
    pat, sam = app.test_client(), app.test_client()
    open_session(pat, "pat")
    open_session(sam, "sam")
    post_link(pat, "100001", "2000001")
    post_link(sam, "100003", "2000003")
    for _ in range(2):  # the second round comes from the cache
        pat_home, sam_home = pat.get("/").get_data(as_text=True), sam.get("/").get_data(as_text=True)
        assert card("100001") in pat_home and card("100003") not in pat_home
        assert card("100003") in sam_home and card("100001") not in sam_home


def test_cached_summaries_equal_the_billing_system(app: Flask) -> None:
    pairs = [("100001", "2000001"), ("100002", "2000001"), ("100003", "2000003"), ("100004", "2000004")]
    with app.test_request_context():
        source = billing_source()
        assert isinstance(source, CachedBillingSource)
        today = city_today()
        direct = SqlBillingSource(read_session).summaries(pairs, today=today)
        assert source.summaries(pairs, today=today) == direct  # misses, then stored
        with count_queries(app) as queries:
            assert source.summaries(pairs, today=today) == direct
        assert queries() == 0
        for summary in direct.values():
            assert decode_summary(encode_summary(summary)) == summary


def test_a_value_that_is_not_ours_is_a_miss(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    with app.test_request_context():
        key = summary_key(("100001", "2000001"), city_today())
        cache().set_many({key: b'{"not": "a summary"}'}, 60)
        summary = billing_source().summaries([("100001", "2000001")], today=city_today())
    assert summary[("100001", "2000001")].service_address
    page = client.get("/accounts/100001")
    assert page.status_code == 200 and "Account 100001" in page.get_data(as_text=True)


def test_loading_billing_data_clears_the_cache(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], redis_url: str, prefix: str
) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    client.get("/")
    assert keys(redis_url, prefix)
    result = app.test_cli_runner().invoke(args=["billing", "demo", "--accounts", "40"])
    assert result.exit_code == 0, result.output
    assert keys(redis_url, prefix) == []


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize("fault", ["refused", "hung"])
def test_pages_work_while_redis_is_down(make_app: Callable[..., Flask], fault: str) -> None:
    server = SilentServer() if fault == "hung" else None
    # Bound but never listening: connections are refused, and no other process can take the port meanwhile.
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    port = server.port if server is not None else refusing.getsockname()[1]
    try:
        app = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/0", CACHE_TIMEOUT=0.2, CACHE_RETRY_SECONDS=300)
        load_demo(app)
        client = app.test_client()
        open_session(client, "pat")
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logging.getLogger("app.database.cache").addHandler(handler)
        try:
            assert post_link(client, "100001", "2000001").status_code == 302  # type: ignore[attr-defined]
            for _ in range(3):
                home = client.get("/")
                assert home.status_code == 200 and "Account 100001" in home.get_data(as_text=True)
            assert client.get("/accounts/100001").status_code == 200
        finally:
            logging.getLogger("app.database.cache").removeHandler(handler)
        warnings = [r for r in records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "cache unavailable" in warnings[0].getMessage()
        if server is not None:
            assert len(server.accepted) == 1  # rested after the first timeout, not asked again per request
    finally:
        refusing.close()
        if server is not None:
            server.close()


def test_without_redis_each_process_keeps_home_pages_by_version(make_app: Callable[..., Flask]) -> None:
    """Two instances without Redis on one database each keep home pages in their own memory; a link made
    through one, or an import, shows on the other at once (the links version and the cache epoch)."""
    first, second = make_app(), make_app()
    load_demo(first)
    changer, reader = first.test_client(), second.test_client()
    open_session(changer, "pat")
    open_session(reader, "pat")
    reader.get("/")
    with count_queries(second) as queries:
        page = reader.get("/").get_data(as_text=True)
    assert queries() == 1 and "Account 100001" not in page  # the session check only
    assert post_link(changer, "100001", "2000001").status_code == 302  # type: ignore[attr-defined]
    assert "Account 100001" in reader.get("/").get_data(as_text=True)
    with count_queries(second) as queries:
        reader.get("/")
    assert queries() == 1
    result = first.test_cli_runner().invoke(args=["billing", "demo", "--accounts", "40"])
    assert result.exit_code == 0, result.output
    with count_queries(second) as queries:
        page = reader.get("/").get_data(as_text=True)
    assert queries() == 4 and "Account 100001" in page  # built again: session, links, summaries, pending


def test_without_redis_kept_account_pages_follow_every_change(make_app: Callable[..., Flask]) -> None:
    """Kept account pages in one process show at once what another changed: another resident's bill
    delivery change on the same account (the outbox raises every linked resident's links version), and a
    link removed in another session of the same resident (404, not the kept page)."""
    first, second = make_app(), make_app()
    load_demo(first)
    changer, reader, laptop = first.test_client(), second.test_client(), first.test_client()
    open_session(changer, "sam")
    post_link(changer, "100001", "2000001")
    open_session(reader, "pat")
    post_link(reader, "100001", "2000001")
    reader.get("/accounts/100001")  # the linking message: not kept
    page = reader.get("/accounts/100001").get_data(as_text=True)
    with count_queries(second) as queries:
        assert reader.get("/accounts/100001").get_data(as_text=True) == page
    assert queries() == 1  # kept
    choice, shown = ("paper", "<dd>Paper bill by mail") if "<dd>Email" in page else ("email", "<dd>Email")
    token = csrf_token(changer, "/accounts/100001/delivery")
    assert changer.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": choice}).status_code == 302
    assert shown in reader.get("/accounts/100001").get_data(as_text=True)
    reader.get("/accounts/100001/bills")
    assert reader.get("/accounts/100001/bills").status_code == 200  # kept too
    open_session(laptop, "pat")
    token = csrf_token(laptop, "/accounts/100001/remove")
    assert laptop.post("/accounts/100001/remove", data={"csrf_token": token}).status_code == 302
    assert reader.get("/accounts/100001").status_code == 404
    assert reader.get("/accounts/100001/bills").status_code == 404


def test_without_redis_summaries_are_read_afresh(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    load_demo(app)
    with app.app_context():
        assert isinstance(app.extensions["billing"], SqlBillingSource)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must be a redis://"),
        ("BILLING_CACHE_SECONDS", 7200, "BILLING_CACHE_SECONDS must be a whole number"),
        ("CACHE_TIMEOUT", 0, "CACHE_TIMEOUT must be a positive number"),
    ],
)
def test_cache_settings_are_checked(setting: str, value: Any, message: str) -> None:
    from app import create_app

    with pytest.raises(ConfigError, match=message):
        create_app(base_config("sqlite://", "http://localhost:1", **{setting: value}))


def test_redis_password_never_appears_in_config_errors() -> None:
    from app import create_app

    with pytest.raises(ConfigError) as raised:
        create_app(base_config("sqlite://", "http://localhost:1", REDIS_URL="http://:hunter2@redis:6379"))
    assert "hunter2" not in str(raised.value)


def test_csrf_token_is_signed_once_per_session_and_still_accepted(
    client: FlaskClient, login_as: Callable[..., Any], oidc_server: str
) -> None:
    login_as("pat")
    tokens = {csrf_token_from(client.get(path).get_data(as_text=True)) for path in ("/", "/account", "/help")}
    assert len(tokens) == 1
    time.sleep(1.1)  # a token signed now would carry another timestamp
    link_page = client.get("/accounts/link").get_data(as_text=True)
    assert link_page.count(tokens.pop()) == 2  # the sign-out form and the link form carry the same token
    assert post_link(client, "100001", "2000001").status_code == 302  # type: ignore[attr-defined]
    before = csrf_token_from(client.get("/").get_data(as_text=True))
    sign_in(client, oidc_server, "pat")  # a new session: a new secret and a new token
    after = csrf_token_from(client.get("/").get_data(as_text=True))
    assert after != before
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400  # the old session's token is refused
    assert client.post("/logout", data={"csrf_token": after}).status_code == 200  # the form that posts to the provider


def test_bill_delivery_change_shows_at_once(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    page = client.get("/accounts/100001/delivery").get_data(as_text=True)  # the summary is cached now
    choice = "paper" if 'value="email" checked' in page else "email"
    token = csrf_token(client, "/accounts/100001/delivery")
    response = client.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": choice})
    assert response.status_code == 302
    summary = client.get("/accounts/100001").get_data(as_text=True)
    assert ("<dd>Email" if choice == "email" else "<dd>Paper bill by mail") in summary


def test_cached_page_belongs_to_one_session_and_ends_with_it(
    app: Flask, client: FlaskClient, login_as: Callable[..., Any], oidc_server: str, redis_url: str, prefix: str
) -> None:
    login_as("pat")
    post_link(client, "100001", "2000001")
    client.get("/")
    first = client.get("/").get_data(as_text=True)  # from the cache now
    assert any(k.startswith("billing:page:v2:") for k in keys(redis_url, prefix))
    laptop = app.test_client()  # the same resident in another browser
    sign_in(laptop, oidc_server, "pat")
    token = csrf_token(laptop, "/accounts/100001/remove")
    assert laptop.post("/accounts/100001/remove", data={"csrf_token": token}).status_code == 302
    assert card("100001") in first
    assert card("100001") not in client.get("/").get_data(as_text=True)  # the links changed: not from cache
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200  # the form that posts to the provider
    assert client.get("/").status_code == 302  # signed out: the cached page is never served


def test_one_time_messages_are_never_cached(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> None:
    signed_in_as("pat")
    client.get("/")
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "A one-time message")]
    assert "A one-time message" in client.get("/").get_data(as_text=True)
    assert "A one-time message" not in client.get("/").get_data(as_text=True)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own on a free port, which the test may pause (SIGSTOP: it hangs)."""
    port = free_port()
    # On the machine's own clock, as the shared Redis runs: redis-server's allocator cannot start under
    # libfaketime (make test-any-day), and what the test checks does not depend on Redis' clock.
    environment = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        env=environment,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis.Redis.from_url(url, socket_timeout=0.5).ping()
            break
        except (redis.RedisError, OSError):
            assert process.poll() is None, f"redis-server exited with {process.returncode}"
            time.sleep(0.1)
    else:
        pytest.fail("redis-server did not answer within 5 s")
    process.url = url  # type: ignore[attr-defined]
    yield process
    process.send_signal(signal.SIGCONT)
    process.terminate()
    process.wait(10)


def test_bill_delivery_change_during_a_redis_hang_is_never_hidden(
    make_app: Callable[..., Flask], own_redis: subprocess.Popen[bytes]
) -> None:
    """Redis hangs while the change is saved, so forgetting the cached summary fails; once Redis answers
    again, the stale summary it still holds must not be served."""
    app = make_app(REDIS_URL=own_redis.url, CACHE_TIMEOUT=0.3, CACHE_RETRY_SECONDS=0.5)  # type: ignore[attr-defined]
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    post_link(client, "100001", "2000001")
    page = client.get("/accounts/100001/delivery").get_data(as_text=True)  # the summary is cached now
    choice, shown = ("paper", "<dd>Paper bill by mail") if 'value="email" checked' in page else ("email", "<dd>Email")
    token = csrf_token(client, "/accounts/100001/delivery")
    own_redis.send_signal(signal.SIGSTOP)
    try:
        response = client.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": choice})
        assert response.status_code == 302
    finally:
        own_redis.send_signal(signal.SIGCONT)
    time.sleep(0.6)  # past CACHE_RETRY_SECONDS: the portal uses Redis again, which still holds the old summary
    for _ in range(3):
        assert shown in client.get("/accounts/100001").get_data(as_text=True)


def test_a_change_during_a_redis_hang_is_never_hidden_by_another_instance(
    make_app: Callable[..., Flask], own_redis: subprocess.Popen[bytes]
) -> None:
    """Two instances share the database and Redis. The first saves a change while Redis hangs, so its forget
    fails; once Redis answers again, the second (which never saw the failure) must not serve the old summary."""
    settings = {"REDIS_URL": own_redis.url, "CACHE_TIMEOUT": 0.3, "CACHE_RETRY_SECONDS": 0.5}  # type: ignore[attr-defined]
    first, second = make_app(**settings), make_app(**settings)
    load_demo(first)
    changer, reader = first.test_client(), second.test_client()
    open_session(changer, "pat")
    post_link(changer, "100001", "2000001")
    open_session(reader, "pat")
    page = reader.get("/accounts/100001/delivery").get_data(as_text=True)  # cached by the second instance
    choice, shown = ("paper", "<dd>Paper bill by mail") if 'value="email" checked' in page else ("email", "<dd>Email")
    assert shown not in reader.get("/accounts/100001").get_data(as_text=True)
    token = csrf_token(changer, "/accounts/100001/delivery")
    own_redis.send_signal(signal.SIGSTOP)
    try:
        response = changer.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": choice})
        assert response.status_code == 302
    finally:
        own_redis.send_signal(signal.SIGCONT)
    time.sleep(0.6)  # past CACHE_RETRY_SECONDS: both use Redis again, which still holds the old summary's key
    for _ in range(3):
        assert shown in reader.get("/accounts/100001").get_data(as_text=True)
    cached = [k for k in redis.Redis.from_url(own_redis.url).scan_iter(match="*summary*")]  # type: ignore[attr-defined]
    assert cached, "the second instance caches again, under the new epoch"
