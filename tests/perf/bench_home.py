"""Benchmark: the signed-in home page against /healthz, measured in the same run (not a test).

Starts the portal under gunicorn on a fresh PostgreSQL database with the demo billing data, signs in a
resident through a local OpenID provider, links 5 accounts through the real form, then drives ``/`` and
``/healthz`` with concurrent keep-alive clients in alternating rounds and prints requests per second for
each and the ratio home/healthz. Target: the ratio is at least 0.5.

    .venv/bin/python tests/perf/bench_home.py [--clients 8] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.auth.provider import HostileProvider, running  # noqa: E402
from tests.browser.conftest import free_port  # noqa: E402
from tests.support.fresh_database import ADMIN_URL, drop, recreate  # noqa: E402

BIN = Path(sys.executable).parent
PAIRS = [("100001", "2000001"), ("100002", "2000001"), ("100003", "2000003"), ("100004", "2000400")]
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def drive(url: str, cookies: dict[str, str], clients: int, seconds: float) -> float:
    """Requests per second that ``clients`` keep-alive threads get from ``url`` in ``seconds``."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        with requests.Session() as session:
            session.cookies.update(cookies)
            while time.monotonic() < stop:
                response = session.get(url, allow_redirects=False, timeout=10)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
                counts[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the shared cache, as in production; '' runs without one",
    )
    parser.add_argument("--path", default="/", help="the signed-in page to compare with /healthz")
    args = parser.parse_args()

    name = f"portal_bench_{secrets.token_hex(4)}"
    recreate(ADMIN_URL, name)
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with running(HostileProvider()) as provider:
            workers = {"GUNICORN_WORKERS": str(args.workers)} if args.workers else {}
            env = {
                **workers,
                **os.environ,
                "PORTAL_ENV": "development",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "DATABASE_URL": database_url,
                "OIDC_ISSUER": provider.issuer,
                "OIDC_CLIENT_SECRET": provider.client_secret,
                "REDIS_URL": args.redis_url,
                "CACHE_KEY_PREFIX": f"{name}:",
                "GUNICORN_ACCESS_LOG": os.devnull,
                "LOG_LEVEL": "WARNING",
            }
            for command in (["db", "upgrade"], ["billing", "demo"]):
                subprocess.run(
                    [BIN / "flask", "--app", "wsgi", *command], cwd=ROOT, env=env, check=True, capture_output=True
                )
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT account_no, customer_id FROM billing_account WHERE status = 'active' "
                    "AND account_no NOT IN ('100001', '100002', '100003', '100004') ORDER BY account_no LIMIT 1"
                ).fetchone()
            pairs = [*PAIRS, (row[0], row[1])]
            server = subprocess.Popen(
                [BIN / "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                for _ in range(150):
                    try:
                        if requests.get(f"{base}/healthz", timeout=1).ok:
                            break
                    except requests.RequestException:
                        time.sleep(0.2)
                browser = requests.Session()
                start = browser.get(f"{base}/login", allow_redirects=False)
                at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
                browser.get(at_provider.headers["Location"], allow_redirects=False)
                for account_no, customer_id in pairs:
                    token = CSRF.search(browser.get(f"{base}/accounts/link").text).group(1)
                    linked = browser.post(
                        f"{base}/accounts/link",
                        data={"csrf_token": token, "account_no": account_no, "customer_id": customer_id},
                        allow_redirects=False,
                    )
                    assert linked.status_code == 302, f"linking {account_no} answered {linked.status_code}"
                home = browser.get(f"{base}/")
                assert home.status_code == 200 and all(a in home.text for a, _ in pairs), "home lacks an account"
                cookies = browser.cookies.get_dict()

                drive(f"{base}/healthz", cookies, args.clients, 1.0)  # warm up
                drive(f"{base}{args.path}", cookies, args.clients, 1.0)
                health, homes = [], []
                for _ in range(args.rounds):
                    health.append(drive(f"{base}/healthz", cookies, args.clients, args.seconds))
                    homes.append(drive(f"{base}{args.path}", cookies, args.clients, args.seconds))
            finally:
                server.terminate()
                server.wait(10)
    finally:
        drop(ADMIN_URL, name)
        if args.redis_url:
            from app.cache import RedisCache

            RedisCache(args.redis_url, prefix=f"{name}:", timeout=2, retry_after=0).delete_prefix("")

    healthz_rps, home_rps = statistics.median(health), statistics.median(homes)
    print(
        f"gunicorn workers={args.workers or 'default'} clients={args.clients} rounds={args.rounds} x {args.seconds}s"
        f" cache={'redis' if args.redis_url else 'none'}"
    )
    print(f"/healthz      {healthz_rps:8.1f} req/s  (rounds: {', '.join(f'{v:.0f}' for v in health)})")
    print(f"{args.path:<13} {home_rps:8.1f} req/s  (rounds: {', '.join(f'{v:.0f}' for v in homes)})")
    ratio = home_rps / healthz_rps
    print(f"ratio home/healthz = {ratio:.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
