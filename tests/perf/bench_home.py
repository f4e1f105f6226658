"""Benchmark: signed-in pages against /healthz on the same server, measured in the same run (not a test).

Serves the portal under gunicorn (the shipped ``gunicorn.conf.py``) on its embedded default, a fresh SQLite
database without Redis, or with ``--database postgres`` / ``--redis-url`` on those; signs a resident in
through a local OpenID provider, links accounts through the real form, then loads each page and
``/healthz`` in alternating rounds with ``wrk`` (or ``--client python``: keep-alive threads). For each page
it prints requests per second, the ratio to ``/healthz``, the SQL statements one request runs and the
server CPU milliseconds per request. Targets: home >= 0.5 of /healthz, the other pages >= 0.25. Every
request still checks its session in the database. By default the pages are kept per session as the portal
ships (``app.bills.kept``: the repeated request is served from process memory after the session check);
``--build-every-time`` measures building them on every request instead (``PAGE_CACHE_ENTRIES=0``).

    .venv/bin/python tests/perf/bench_home.py [--client wrk] [--connections 8] [--seconds 5] [--rounds 3]
        [--build-every-time]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.auth.provider import HostileProvider, running  # noqa: E402
from tests.support.fresh_database import ADMIN_URL, drop, recreate  # noqa: E402
from tests.support.gunicorn import BIN, gunicorn, migrate, sign_in_over_http  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

PAIRS = [("100001", "2000001"), ("100002", "2000001"), ("100003", "2000003")]
PAGES = {
    "/": 0.5,
    "/accounts/100001": 0.25,
    "/accounts/100001/bills": 0.25,
    "/accounts/100001/consumption": 0.25,
}
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
WRK_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def wrk(url: str, cookie: str, connections: int, seconds: float) -> float:
    """Requests per second from ``wrk`` (2 threads) on ``url``; a non-2xx answer stops the benchmark."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if errors := WRK_ERRORS.search(out):
        raise SystemExit(f"{url}: {errors.group(1)} answers were not 2xx:\n{out}")
    match = WRK_RATE.search(out)
    assert match, out
    return float(match.group(1))


def python_client(url: str, cookie: str, connections: int, seconds: float) -> float:
    """Requests per second that ``connections`` keep-alive threads get from ``url``."""
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        with requests.Session() as session:
            session.headers["Cookie"] = cookie
            while time.monotonic() < stop:
                response = session.get(url, allow_redirects=False, timeout=10)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
                counts[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def server_cpu_seconds(master: int) -> float:
    """User + system CPU seconds of the gunicorn master's workers so far."""
    total = 0.0
    for pid in subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def statements_per_page(env: dict[str, str], cookie: str) -> dict[str, int]:
    """The SQL statements one request of each page runs, counted in an app on the same database."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from sqlalchemy import event

        from app import create_app
        from app.database import reads
        from app.database.db import db

        app = create_app()
        client = app.test_client()
        name, value = cookie.split("=", 1)
        client.set_cookie(name, value)
        counts: dict[str, int] = {}
        for path in PAGES:
            client.get(path)  # warm, as the benchmark is
            seen: list[str] = []

            def count(*args: object, seen: list[str] = seen) -> None:
                seen.append(str(args[2]))

            with app.app_context():
                engines = {db.engine, reads.read_engine()}
            for engine in engines:
                event.listen(engine, "before_cursor_execute", count)
            assert client.get(path).status_code == 200
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
            counts[path] = len(seen)
        return counts
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the provider's request log
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--redis-url", default="", help="the shared cache; '' (the default) runs without one")
    parser.add_argument("--path", action="append", help="only these pages (repeatable)")
    parser.add_argument(
        "--build-every-time",
        action="store_true",
        help="keep no page in process memory (PAGE_CACHE_ENTRIES=0): every request builds its page",
    )
    args = parser.parse_args()
    pages = {p: PAGES.get(p, 0.25) for p in args.path} if args.path else PAGES
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (or use --client python)")
    drive: Callable[[str, str, int, float], float] = wrk if args.client == "wrk" else python_client

    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    name = f"portal_bench_{secrets.token_hex(4)}"
    if args.database == "postgres":
        recreate(ADMIN_URL, name)
        database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        database_url = f"sqlite:///{tmp / 'portal.sqlite'}"
    port = free_port()
    try:
        with running(HostileProvider()) as provider:
            env = {
                "PORTAL_ENV": "development",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "DATABASE_URL": database_url,
                "OIDC_ISSUER": provider.issuer,
                "OIDC_CLIENT_SECRET": provider.client_secret,
                "REDIS_URL": args.redis_url,
                "CACHE_KEY_PREFIX": f"{name}:",
                "GUNICORN_WORKERS": str(args.workers),
                "GUNICORN_ACCESS_LOG": os.devnull,
                "LOG_LEVEL": "WARNING",
            }
            if args.build_every_time:
                env["PAGE_CACHE_ENTRIES"] = "0"
            migrate(env)
            subprocess.run(
                [BIN / "flask", "--app", "wsgi", "billing", "demo"],
                cwd=ROOT,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
            pid_file = tmp / "gunicorn.pid"
            with gunicorn(env, port, tmp / "gunicorn.log", "--pid", str(pid_file)) as base:
                browser = requests.Session()
                sign_in_over_http(browser, base, "bench-resident")
                for account_no, customer_id in PAIRS:
                    token = CSRF.search(browser.get(f"{base}/accounts/link").text).group(1)  # type: ignore[union-attr]
                    linked = browser.post(
                        f"{base}/accounts/link",
                        data={"csrf_token": token, "account_no": account_no, "customer_id": customer_id},
                        allow_redirects=False,
                    )
                    assert linked.status_code == 302, f"linking {account_no} answered {linked.status_code}"
                cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.get_dict().items())
                statements = statements_per_page(env, cookie)
                master = int(pid_file.read_text())
                results: dict[str, list[float]] = {"/healthz": [], **{p: [] for p in pages}}
                cpu: dict[str, list[float]] = {p: [] for p in results}
                for path in results:  # warm up
                    drive(base + path, cookie, args.connections, 1.0)
                for _ in range(args.rounds):
                    for path in results:
                        before = server_cpu_seconds(master)
                        rate = drive(base + path, cookie, args.connections, args.seconds)
                        results[path].append(rate)
                        cpu[path].append((server_cpu_seconds(master) - before) / (rate * args.seconds) * 1000)
    finally:
        if args.database == "postgres":
            drop(ADMIN_URL, name)
        shutil.rmtree(tmp, ignore_errors=True)

    healthz = statistics.median(results["/healthz"])
    print(
        f"gunicorn workers={args.workers} client={args.client} connections={args.connections} "
        f"rounds={args.rounds} x {args.seconds:g}s database={args.database} "
        f"cache={'redis' if args.redis_url else 'none'} linked accounts={len(PAIRS)} "
        f"pages={'built every time' if args.build_every_time else 'kept per session'}"
    )
    print(f"{'page':32} {'req/s':>8} {'ratio':>6} {'target':>7} {'SQL':>4} {'CPU ms':>7}  rounds")
    for path, rates in results.items():
        rate = statistics.median(rates)
        ratio = rate / healthz
        target = pages.get(path)
        verdict = "" if target is None else ("met" if ratio >= target else "NOT met")
        print(
            f"{path:32} {rate:8.0f} {ratio:6.2f} {target or '':>7} {statements.get(path, ''):>4} "
            f"{statistics.median(cpu[path]):7.2f}  {', '.join(f'{v:.0f}' for v in rates)} {verdict}"
        )


if __name__ == "__main__":
    main()
