"""Soak: signed-in readers, linkers and sign-ins under gunicorn while things break in turn (not a test).

Starts the portal under gunicorn (shipped settings, 2 workers) on a fresh PostgreSQL database with demo
data, a Redis of its own and a local OpenID provider, then runs the traffic for ``--minutes`` while it, in
turn: terminates the portal's database connections, kills a gunicorn worker, hangs Redis (SIGSTOP) and
stops the provider. At the end it prints requests, answers by status, the 5xx count (sign-in's documented
503 while the provider is down is counted apart), p50/p99 latency, and compares the database with what
every answer said: each linker's links must be what its last clear answer said (nothing lost), and no
account linked more often than the answers allow (nothing done twice).

    .venv/bin/python tests/perf/soak.py [--minutes 2] [--readers 4] [--linkers 3]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.auth.provider import HostileProvider  # noqa: E402
from tests.support.fresh_database import ADMIN_URL, drop, recreate, terminate_connections  # noqa: E402
from tests.support.gunicorn import BIN, gunicorn, migrate, sign_in_over_http  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.threads import serve  # noqa: E402

CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
READ_PATHS = ("/", "/accounts/100001", "/accounts/100001/bills", "/accounts/100001/consumption", "/account")
LINKABLE = (("100001", "2000001"), ("100002", "2000001"))


@dataclass
class Tally:
    """Every answer, by kind; thread-safe enough for counters under the GIL."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    outage_503: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, kind: str, started: float, status: int | str) -> None:
        self.latencies.append(time.monotonic() - started)
        self.statuses[f"{kind} {status}"] += 1


@dataclass
class Linker:
    """One resident linking and removing accounts; what the portal's answers said, per account."""

    sub: str
    browser: requests.Session = field(default_factory=requests.Session)
    claimed: dict[str, bool | None] = field(default_factory=dict)  # True linked, False not, None unclear
    linked_answers: Counter[str] = field(default_factory=Counter)
    unclear: Counter[str] = field(default_factory=Counter)


def timed(tally: Tally, kind: str, call: Callable[[], requests.Response]) -> requests.Response | None:
    """Make one request; record its status (or the exception's name) and latency."""
    started = time.monotonic()
    try:
        response = call()
    except requests.RequestException as exc:
        tally.record(kind, started, type(exc).__name__)
        return None
    tally.record(kind, started, response.status_code)
    return response


def reader(base: str, cookies: dict[str, str], tally: Tally, stop: threading.Event) -> None:
    with requests.Session() as browser:
        browser.cookies.update(cookies)
        for path in itertools.cycle(READ_PATHS):
            if stop.is_set():
                return
            timed(tally, "read", lambda p=path: browser.get(base + p, allow_redirects=False, timeout=15))


def csrf(browser: requests.Session, url: str) -> str | None:
    page = browser.get(url, timeout=15)
    match = CSRF.search(page.text) if page.status_code == 200 else None
    return match.group(1) if match else None


def linker(base: str, who: Linker, tally: Tally, stop: threading.Event) -> None:
    for account_no, customer_id in itertools.cycle(LINKABLE):
        if stop.is_set():
            return
        try:
            token = csrf(who.browser, f"{base}/accounts/link")
        except requests.RequestException:
            token = None
        if token is None:
            continue
        answer = timed(
            tally,
            "link",
            lambda a=account_no, c=customer_id, t=token: who.browser.post(
                f"{base}/accounts/link",
                data={"csrf_token": t, "account_no": a, "customer_id": c},
                timeout=15,
                allow_redirects=False,
            ),
        )
        if answer is not None and answer.status_code == 302:
            who.claimed[account_no] = True
            who.linked_answers[account_no] += 1
        elif answer is not None and answer.status_code < 500 and "already linked" in answer.text.lower():
            who.claimed[account_no] = True
        else:
            who.claimed[account_no] = None
            who.unclear[account_no] += 1
            continue
        try:
            token = csrf(who.browser, f"{base}/accounts/{account_no}/remove")
        except requests.RequestException:
            token = None
        if token is None:
            who.claimed[account_no] = None
            continue
        answer = timed(
            tally,
            "remove",
            lambda a=account_no, t=token: who.browser.post(
                f"{base}/accounts/{a}/remove", data={"csrf_token": t}, timeout=15, allow_redirects=False
            ),
        )
        who.claimed[account_no] = False if answer is not None and answer.status_code == 302 else None


def signer(base: str, tally: Tally, stop: threading.Event) -> None:
    """Sign in new residents one after another; while the provider is down /login must answer 503."""
    for n in itertools.count():
        if stop.is_set():
            return
        browser = requests.Session()
        started = time.monotonic()
        start = timed(tally, "login", lambda b=browser: b.get(f"{base}/login", allow_redirects=False, timeout=15))
        if start is None or start.status_code != 302:
            if start is not None and start.status_code == 503:
                tally.outage_503 += 1
            time.sleep(0.2)
            continue
        try:
            at_provider = requests.get(
                start.headers["Location"] + f"&login_hint=soak-signin-{n}", allow_redirects=False, timeout=10
            )
        except requests.RequestException:
            tally.record("login sent to a provider that is down", started, "-")
            continue
        timed(
            tally,
            "callback",
            lambda b=browser, u=at_provider.headers["Location"]: b.get(u, allow_redirects=False, timeout=15),
        )
        time.sleep(0.2)


def workers_of(master: int) -> list[int]:
    """The pids of the gunicorn master's worker processes."""
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the provider's request log
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--linkers", type=int, default=3)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between two disruptions")
    args = parser.parse_args()

    name = f"portal_soak_{secrets.token_hex(4)}"
    recreate(ADMIN_URL, name)
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / name
    tmp.mkdir(parents=True)
    redis_port, provider_port, port = free_port(), free_port(), free_port()
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
    )
    provider = HostileProvider()
    provider.issuer = f"http://localhost:{provider_port}"
    env = {
        "PORTAL_ENV": "development",
        "SECRET_KEY": "soak-secret-key-0123456789abcdef-0123456789",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": os.devnull,
        "LINK_FAILURES_PER_RESIDENT": "1000",
    }
    tally, stop = Tally(), threading.Event()
    linkers = [Linker(f"soak-linker-{n}") for n in range(args.linkers)]
    try:
        migrate(env)
        subprocess.run([BIN / "flask", "--app", "wsgi", "billing", "demo"], cwd=ROOT, env={**os.environ, **env},
                       check=True, capture_output=True)  # fmt: skip
        provider_server = ExitStack()
        provider_server.enter_context(serve(provider, provider_port))
        with ExitStack() as stack:
            stack.callback(lambda: provider_server.close())
            base = stack.enter_context(gunicorn(env, port, tmp / "gunicorn.log", "--pid", str(tmp / "gunicorn.pid")))
            readers = []
            for n in range(args.readers):
                browser = requests.Session()
                sign_in_over_http(browser, base, f"soak-reader-{n}")
                token = csrf(browser, f"{base}/accounts/link")
                browser.post(
                    f"{base}/accounts/link",
                    data={"csrf_token": token, "account_no": "100001", "customer_id": "2000001"},
                    timeout=15,
                )
                readers.append(dict(browser.cookies))
            for who in linkers:
                sign_in_over_http(who.browser, base, who.sub)
            threads = [threading.Thread(target=reader, args=(base, c, tally, stop)) for c in readers]
            threads += [threading.Thread(target=linker, args=(base, w, tally, stop)) for w in linkers]
            threads.append(threading.Thread(target=signer, args=(base, tally, stop)))
            for thread in threads:
                thread.start()
            master = int((tmp / "gunicorn.pid").read_text())
            deadline = time.monotonic() + args.minutes * 60
            disruptions = itertools.cycle(("database", "worker", "redis", "provider"))
            done: Counter[str] = Counter()
            while time.monotonic() < deadline:
                time.sleep(args.every)
                what = next(disruptions)
                if what == "database":
                    terminate_connections(ADMIN_URL, name)
                elif what == "worker":
                    pids = workers_of(master)
                    if pids:
                        os.kill(pids[0], signal.SIGKILL)
                elif what == "redis":
                    redis_server.send_signal(signal.SIGSTOP)
                    time.sleep(3)
                    redis_server.send_signal(signal.SIGCONT)
                else:  # the provider: down for 5 s, back on the same port
                    provider_server.close()
                    time.sleep(5)
                    provider_server = ExitStack()
                    provider_server.enter_context(serve(provider, provider_port))
                done[what] += 1
            stop.set()
            for thread in threads:
                thread.join(30)
    finally:
        redis_server.send_signal(signal.SIGCONT)
        redis_server.terminate()
    report(tally, linkers, database_url, done, args.minutes)
    drop(ADMIN_URL, name)


def report(tally: Tally, linkers: list[Linker], database_url: str, done: Counter[str], minutes: float) -> None:
    """Print the traffic's figures and compare the database with the answers."""
    total = sum(tally.statuses.values())
    server_errors = sum(
        n for k, n in tally.statuses.items() if k.rsplit(" ", 1)[1].startswith("5") and not k.startswith("login 503")
    )
    latencies = sorted(tally.latencies)
    print(f"soak: {minutes:g} min, disruptions {dict(done)}")
    print(f"requests: {total}  ({total / (minutes * 60):.0f}/s)")
    for key, count in sorted(tally.statuses.items()):
        print(f"  {key:32} {count}")
    print(f"5xx (not counting /login's documented 503 while the provider is down): {server_errors}")
    print(f"/login answered 503 (provider down) {tally.outage_503} times")
    if latencies:
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    lost = doubled = 0
    with psycopg.connect(database_url) as conn:
        for who in linkers:
            rows = conn.execute(
                "SELECT l.account_no FROM account_link l JOIN resident r ON r.id = l.resident_id WHERE r.subject = %s",
                (who.sub,),
            ).fetchall()
            actual = {row[0] for row in rows}
            for account_no, claim in who.claimed.items():
                if claim is not None and claim != (account_no in actual):
                    lost += 1
                    print(f"  LOST: {who.sub} {account_no}: the answer said {claim}, the database says {not claim}")
                [(linked,)] = conn.execute(
                    "SELECT count(*) FROM account_event e JOIN resident r ON r.id = e.resident_id "
                    "WHERE r.subject = %s AND e.account_no = %s AND e.outcome = 'linked'",
                    (who.sub, account_no),
                ).fetchall()
                if linked > who.linked_answers[account_no] + who.unclear[account_no]:
                    doubled += 1
                    answered = who.linked_answers[account_no]
                    print(f"  DOUBLED: {who.sub} {account_no}: {linked} links recorded, {answered} answered")
    print(f"nothing lost: {lost == 0} ({lost} mismatches); nothing done twice: {doubled == 0} ({doubled})")


if __name__ == "__main__":
    main()
