"""Lighthouse (mobile) scores of the portal's main pages, served locally with demo data (not a test).

Starts the portal under gunicorn with the repo's ``gunicorn.conf.py`` on a fresh SQLite database with the demo
billing data (the embedded default), signs a resident in through a local OpenID provider, links account 100001
through the real form, then runs Lighthouse with Debian's Chromium on the sign-in page, the home page, and the
account's pages a resident uses (summary, bills, one bill, consumption, pay, Auto Pay, Account Settings, the link
page, Help) and Pay Now (the signed-in ones with the session cookie, passed through ``--extra-headers``), and
prints the Performance, Accessibility and Best Practices scores with the metrics behind them.
Target (issue 22): Performance >= 98, Accessibility and Best Practices 100 on every page.

    .venv/bin/python tests/perf/lighthouse.py [--runs 1] [--keep-reports DIR]

Lighthouse comes from npm (pinned below) and is installed once into ~/.cache/citizen-portal/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.auth.provider import HostileProvider, running  # noqa: E402
from tests.support.browser import CHROMIUM  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

LIGHTHOUSE_VERSION = "13.5.0"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citizen-portal"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"
BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ACCOUNT = ("100001", "2000001")
PAGES = [
    ("sign-in", "/sign-in", None),
    ("home", "/", "resident"),
    ("summary", f"/accounts/{ACCOUNT[0]}", "resident"),
    ("bills", f"/accounts/{ACCOUNT[0]}/bills", "resident"),
    ("consumption", f"/accounts/{ACCOUNT[0]}/consumption", "resident"),
    ("one-bill", f"/accounts/{ACCOUNT[0]}/bills/{{bill}}", "resident"),
    ("pay", f"/accounts/{ACCOUNT[0]}/pay", "resident"),
    ("autopay", f"/accounts/{ACCOUNT[0]}/autopay", "resident"),
    ("settings", "/account", "resident"),
    ("link", "/accounts/link", "resident"),
    ("help", "/help", None),
    ("pay-now", "/pay", None),
    ("staff", "/staff/", "staff"),
    ("staff-search", "/staff/residents?q=100001", "staff"),
]
BILL_LINK = re.compile(rf'href="/accounts/{ACCOUNT[0]}/bills/([0-9A-Za-z-]+)"')
METRICS = {
    "first-contentful-paint": "FCP",
    "largest-contentful-paint": "LCP",
    "total-blocking-time": "TBT",
    "cumulative-layout-shift": "CLS",
    "speed-index": "SI",
}


def lighthouse_cli() -> Path:
    """The pinned Lighthouse CLI, installed into the cache on first use."""
    prefix = CACHE / f"lighthouse-{LIGHTHOUSE_VERSION}"
    cli = prefix / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        if shutil.which("npm") is None:
            raise SystemExit("npm is missing: install Node 20 (Debian: apt-get install nodejs npm)")
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", "--prefix"]
            + [str(prefix), f"lighthouse@{LIGHTHOUSE_VERSION}"],
            check=True,
        )
    return cli


def run_lighthouse(cli: Path, url: str, cookie: str | None, report: Path) -> dict[str, object]:
    """One Lighthouse run (mobile, the default simulated throttling); returns its JSON report."""
    command = [
        "node",
        str(cli),
        url,
        "--only-categories=performance,accessibility,best-practices",
        "--output=json",
        f"--output-path={report}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--quiet",
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
    result: dict[str, object] = json.loads(report.read_text())
    return result


def signed_in(base: str) -> requests.Session:
    """A browser session signed in through the provider (with the claims it is set to give)."""
    browser = requests.Session()
    start = browser.get(f"{base}/login", allow_redirects=False, timeout=10)
    at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    browser.get(at_provider.headers["Location"], allow_redirects=False, timeout=10)
    return browser


def cookie_of(browser: requests.Session) -> str:
    """The Cookie header that carries ``browser``'s session."""
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.get_dict().items())


def signed_in_cookie(base: str) -> str:
    """Sign a resident in through the provider, link the demo account, and return the Cookie header."""
    browser = signed_in(base)
    token = CSRF.search(browser.get(f"{base}/accounts/link", timeout=10).text)
    assert token is not None, "no link form: the sign-in failed"
    data = {"csrf_token": token.group(1), "account_no": ACCOUNT[0], "customer_id": ACCOUNT[1]}
    linked = browser.post(f"{base}/accounts/link", data=data, allow_redirects=False, timeout=10)
    assert linked.status_code == 302, f"linking {ACCOUNT[0]} answered {linked.status_code}"
    browser.get(f"{base}/", timeout=10)  # the one-time "Account linked" message is shown and gone
    return cookie_of(browser)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="Lighthouse runs per page; the median is printed")
    parser.add_argument("--keep-reports", type=Path, help="keep the JSON reports in this directory")
    args = parser.parse_args()
    cli = lighthouse_cli()
    work = Path(tempfile.mkdtemp(prefix="portal-lighthouse-"))
    reports = args.keep_reports or work
    reports.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with running(HostileProvider()) as provider:
            env = {
                **os.environ,
                "PORTAL_ENV": "development",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "DATABASE_URL": f"sqlite:///{work / 'portal.sqlite'}",
                "OIDC_ISSUER": provider.issuer,
                "OIDC_CLIENT_SECRET": provider.client_secret,
                "REDIS_URL": "",
                "GUNICORN_ACCESS_LOG": os.devnull,
                "LOG_LEVEL": "WARNING",
            }
            for command in (["db", "upgrade"], ["billing", "demo"]):
                subprocess.run(
                    [BIN / "flask", "--app", "wsgi", *command], cwd=ROOT, env=env, check=True, capture_output=True
                )
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
                cookies: dict[str | None, str | None] = {None: None, "resident": signed_in_cookie(base)}
                provider.claims["realm_access"] = {"roles": ["staff"]}
                cookies["staff"] = cookie_of(signed_in(base))
                cookie = cookies["resident"]
                bills = requests.get(f"{base}/accounts/{ACCOUNT[0]}/bills", headers={"Cookie": cookie}, timeout=10)
                newest = BILL_LINK.search(bills.text)
                assert newest is not None, "no bill on the bill history page"
                for name, path, who in PAGES:
                    path = path.replace("{bill}", newest.group(1))
                    shown = requests.get(base + path, headers={"Cookie": cookies[who] or ""}, timeout=10)
                    assert shown.status_code == 200, f"{path} answered {shown.status_code} (as {who or 'a visitor'})"
                    runs = []
                    for n in range(args.runs):
                        report = reports / f"{name}-{n + 1}.json"
                        runs.append(run_lighthouse(cli, base + path, cookies[who], report))
                    rows.append((name, path, runs))
            finally:
                server.terminate()
                try:
                    server.wait(30)  # gunicorn waits for Chromium's keep-alive connections
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Lighthouse {LIGHTHOUSE_VERSION}, mobile, {args.runs} run(s) per page (median), {CHROMIUM}")
    print(f"{'page':<12} {'perf':>4} {'a11y':>4} {'best':>4}  " + "  ".join(f"{m:>6}" for m in METRICS.values()))
    met = True
    for name, _path, runs in rows:
        perf = statistics.median(score(r, "performance") for r in runs)
        access = statistics.median(score(r, "accessibility") for r in runs)
        best = statistics.median(score(r, "best-practices") for r in runs)
        met = met and perf >= 98 and access == 100 and best == 100
        metrics = "  ".join(f"{statistics.median(metric(r, key) for r in runs):>6}" for key in METRICS)
        print(f"{name:<12} {perf:>4.0f} {access:>4.0f} {best:>4.0f}  {metrics}")
        for category in ("accessibility", "best-practices"):
            for audit in failed_audits(runs[-1], category):
                print(f"    {category}: {audit}")
    print(f"target Performance >= 98, Accessibility and Best Practices 100: {'met' if met else 'NOT met'}")


def score(report: dict[str, object], category: str) -> float:
    """A category's score, 0-100."""
    categories = report["categories"]
    assert isinstance(categories, dict)
    return float(categories[category]["score"] or 0) * 100


def metric(report: dict[str, object], key: str) -> str:
    """A metric as Lighthouse displays it (``1.2 s``, ``0``)."""
    audits = report["audits"]
    assert isinstance(audits, dict)
    return str(audits[key]["displayValue"]).replace("\xa0", " ")


def failed_audits(report: dict[str, object], category: str) -> list[str]:
    """Titles of the ``category`` audits that lost points."""
    categories, audits = report["categories"], report["audits"]
    assert isinstance(categories, dict) and isinstance(audits, dict)
    refs = categories[category]["auditRefs"]
    return [
        audits[ref["id"]]["title"]
        for ref in refs
        if ref["weight"] > 0 and audits[ref["id"]]["score"] is not None and audits[ref["id"]]["score"] < 1
    ]


if __name__ == "__main__":
    main()
