"""A database connection lost in the middle of a request (restart, failover) never costs a resident a 500.

The portal runs under real gunicorn on PostgreSQL; a request asks (``X-Test-Terminate``, see
tests/support/terminations.py) for its own connection to be ended with ``pg_terminate_backend`` at one
point: before a read, before the write of a link, before its COMMIT, before the session is saved after the
commit, before the rollback that ends the unit of work. A TCP proxy loses the answer to a COMMIT the
server carried out (tests/support/pgproxy.py). Reads and uncommitted writes are answered as if nothing
happened, and a committed write answers as committed, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.gunicorn import gunicorn, prepare_database, sign_in_over_http
from tests.support.pgproxy import CommitCutter, commit_cutter
from tests.support.ports import free_port
from tests.support.terminations import HEADER, MARK

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
LINKED = "Account 100001 is now linked to your profile."
REPEATED = "runs again"  # the portal's log line when it dispatches a request again


class Portal:
    """The portal's URL, its server log and its database."""

    def __init__(self, base: str, log: Path, database_url: str) -> None:
        self.base, self.log, self.database_url = base, log, database_url

    def terminations(self) -> int:
        """How many backends the test hook has ended so far."""
        return self.log.read_text().count(MARK)

    def count(self, sql: str, *params: object) -> int:
        with psycopg.connect(self.database_url) as conn:
            [(n,)] = conn.execute(sql, params).fetchall()
        return int(n)


@pytest.fixture
def portal(gunicorn_env: dict[str, str], database_url: str, tmp_path: Path) -> Iterator[Portal]:
    """The portal with demo billing data under gunicorn with the termination hook."""
    prepare_database(gunicorn_env, demo=True)
    log = tmp_path / "gunicorn.log"
    with gunicorn(gunicorn_env, free_port(), log, config="tests/support/terminations.conf.py") as base:
        yield Portal(base, log, database_url)


def _signed_in(portal: Portal, sub: str) -> requests.Session:
    browser = requests.Session()
    sign_in_over_http(browser, portal.base, sub)
    return browser


def _link(portal: Portal, browser: requests.Session, *, terminate: str | None = None) -> requests.Response:
    page = browser.get(f"{portal.base}/accounts/link", timeout=10)
    match = CSRF.search(page.text)
    assert page.status_code == 200 and match, page.text
    return browser.post(
        f"{portal.base}/accounts/link",
        data={"csrf_token": match.group(1), "account_no": "100001", "customer_id": "2000001"},
        headers={HEADER: terminate} if terminate else {},
        allow_redirects=False,
        timeout=15,
    )


def _links(portal: Portal, sub: str) -> tuple[int, int]:
    """How many links to 100001 the resident has, and how many "linked" events were recorded."""
    links = portal.count(
        "SELECT count(*) FROM account_link l JOIN resident r ON r.id = l.resident_id"
        " WHERE r.subject = %s AND l.account_no = '100001'",
        sub,
    )
    events = portal.count(
        "SELECT count(*) FROM account_event e JOIN resident r ON r.id = e.resident_id"
        " WHERE r.subject = %s AND e.account_no = '100001' AND e.outcome = 'linked'",
        sub,
    )
    return links, events


@pytest.mark.parametrize(
    "point",
    [
        "SELECT account_link.",  # the links, on the read engine
        "SELECT account_event.",  # the activity, in the request's transaction
        "ROLLBACK",  # save_session ends that transaction, after the page was rendered
    ],
)
def test_signed_in_page_answers_when_its_connection_dies(portal: Portal, point: str) -> None:
    browser = _signed_in(portal, "reader")
    assert _link(portal, browser).status_code == 302
    before, repeated = portal.terminations(), portal.log.read_text().count(REPEATED)
    response = browser.get(f"{portal.base}/account", headers={HEADER: point}, allow_redirects=False, timeout=15)
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 200, portal.log.read_text()
    # Reads are dispatched again; the closing rollback comes after the answer and is let go.
    assert portal.log.read_text().count(REPEATED) == repeated + (point != "ROLLBACK")
    assert "100001" in response.text and "Sign out" in response.text
    assert browser.get(f"{portal.base}/account", allow_redirects=False, timeout=15).status_code == 200


@pytest.mark.parametrize("point", ["INSERT INTO account_link", "COMMIT"])
def test_link_cut_off_before_it_committed_is_done_once(portal: Portal, point: str) -> None:
    browser = _signed_in(portal, "linker")
    before = portal.terminations()
    response = _link(portal, browser, terminate=point)
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 302, portal.log.read_text()
    assert response.headers["Location"].endswith("/accounts/100001")
    assert LINKED in browser.get(portal.base + response.headers["Location"], timeout=10).text
    assert _links(portal, "linker") == (1, 1)


def test_link_whose_session_save_loses_the_connection_answers_as_committed(portal: Portal) -> None:
    browser = _signed_in(portal, "linker")
    before = portal.terminations()
    response = _link(portal, browser, terminate="UPDATE portal_session")  # the flash is saved after the commit
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 302, portal.log.read_text()
    assert LINKED in browser.get(portal.base + response.headers["Location"], timeout=10).text
    assert _links(portal, "linker") == (1, 1)
    again = _link(portal, browser)  # the answer said linked, and the portal agrees
    assert again.status_code == 200 and "already linked" in again.text
    assert _links(portal, "linker") == (1, 1)


def test_sign_in_whose_profile_write_loses_the_connection_signs_in(portal: Portal) -> None:
    browser = requests.Session()
    start = browser.get(f"{portal.base}/login", allow_redirects=False, timeout=10)
    at_provider = requests.get(start.headers["Location"] + "&login_hint=newcomer", allow_redirects=False, timeout=10)
    before = portal.terminations()
    callback = browser.get(
        at_provider.headers["Location"], headers={HEADER: "INSERT INTO resident"}, allow_redirects=False, timeout=15
    )
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert callback.status_code == 302, portal.log.read_text()
    assert browser.get(f"{portal.base}/account", allow_redirects=False, timeout=10).status_code == 200
    assert portal.count("SELECT count(*) FROM resident WHERE subject = 'newcomer'") == 1


def test_link_whose_commit_answer_is_lost_answers_as_committed(
    gunicorn_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prepare_database(gunicorn_env, demo=True)
    with commit_cutter() as cutter:
        # Plain TCP (no TLS), so that the proxy sees the COMMIT go by.
        through = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{cutter.port}/") + "?sslmode=disable"
        assert through != database_url
        env = {**gunicorn_env, "DATABASE_URL": through}
        with gunicorn(env, free_port(), tmp_path / "gunicorn.log") as base:
            portal = Portal(base, tmp_path / "gunicorn.log", database_url)
            browser = _signed_in(portal, "linker")
            response = _cut_link(portal, browser, cutter)
            assert cutter.cut == 1, portal.log.read_text()
            assert response.status_code == 302, portal.log.read_text()
            assert LINKED in browser.get(portal.base + response.headers["Location"], timeout=10).text
    assert "the transaction committed" in portal.log.read_text()
    assert _links(portal, "linker") == (1, 1)


def _cut_link(portal: Portal, browser: requests.Session, cutter: CommitCutter) -> requests.Response:
    page = browser.get(f"{portal.base}/accounts/link", timeout=10)
    match = CSRF.search(page.text)
    assert match, page.text
    cutter.arm()  # the session save of that page is done: the next COMMIT is the link's
    return browser.post(
        f"{portal.base}/accounts/link",
        data={"csrf_token": match.group(1), "account_no": "100001", "customer_id": "2000001"},
        allow_redirects=False,
        timeout=15,
    )


def test_delivery_change_whose_session_save_loses_the_connection_answers_as_committed(portal: Portal) -> None:
    browser = _signed_in(portal, "saver")
    assert _link(portal, browser).status_code == 302
    url = f"{portal.base}/accounts/100001/delivery"
    before_value = {1: "email", 0: "paper"}[
        portal.count("SELECT count(*) FROM billing_account WHERE account_no = '100001' AND bill_delivery = 'email'")
    ]
    wanted = "paper" if before_value == "email" else "email"
    page = browser.get(url, timeout=10)
    match = CSRF.search(page.text)
    assert page.status_code == 200 and match, page.text
    before = portal.terminations()
    response = browser.post(
        url,
        data={"csrf_token": match.group(1), "delivery": wanted},
        headers={HEADER: "UPDATE portal_session"},  # the flash is saved after the commit
        allow_redirects=False,
        timeout=15,
    )
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 302, portal.log.read_text()
    done = browser.get(portal.base + response.headers["Location"], timeout=10).text
    assert ("Bills will come by email." if wanted == "email" else "paper bills by mail") in done
    assert (
        portal.count(f"SELECT count(*) FROM billing_account WHERE account_no = '100001' AND bill_delivery = '{wanted}'")
        == 1
    )
    assert portal.count(f"SELECT count(*) FROM portal_change WHERE account_no = '100001' AND value = '{wanted}'") == 1
