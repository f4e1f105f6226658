"""Run the portal under real gunicorn with the shipped ``gunicorn.conf.py``, for the production tests."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests
from psycopg import sql
from sqlalchemy import make_url

from tests.support.databases import worker_id
from tests.support.fresh_database import ADMIN_URL, drop, terminate_connections

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: (demo?, CLOCK_START) -> the template database built for it in this session (this worker's).
_TEMPLATES: dict[tuple[bool, str], str] = {}


def migrate(env: Mapping[str, str]) -> None:
    """``flask db upgrade`` on the database that ``env`` (added to this process's environment) names."""
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def load_demo(env: Mapping[str, str]) -> None:
    """``flask billing demo`` on the database that ``env`` names."""
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "billing", "demo"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def prepare_database(env: Mapping[str, str], *, demo: bool = False) -> None:
    """The database that ``env`` names as ``flask db upgrade`` (and ``flask billing demo``) leave it.

    On PostgreSQL the commands run once per session into a template database, and each test's database is
    then created from it (``CREATE DATABASE ... TEMPLATE``): the same rows in a fraction of the time.
    """
    url = env["DATABASE_URL"]
    if not url.startswith("postgresql"):
        migrate(env)
        if demo:
            load_demo(env)
        return
    key = (demo, env.get("CLOCK_START", ""))
    template = _TEMPLATES.get(key)
    if template is None:
        template = f"portal_tpl_{worker_id()}_{len(_TEMPLATES)}"
        drop(ADMIN_URL, template)
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        atexit.register(drop, ADMIN_URL, template)
        built = {**env, "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + template}
        migrate(built)
        if demo:
            load_demo(built)
        _TEMPLATES[key] = template
    name = make_url(url).database
    assert name, url
    terminate_connections(ADMIN_URL, name)
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    """Wait until ``base``/healthz answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{base} did not become healthy:\n{log.read_text()}")


@contextmanager
def gunicorn(
    env: Mapping[str, str], port: int, log: Path, *args: str, config: str = "gunicorn.conf.py"
) -> Iterator[str]:
    """gunicorn on 127.0.0.1:``port`` with ``env``; stderr (and the access log when it is ``-``) go to ``log``.

    ``config`` is the shipped ``gunicorn.conf.py`` unless a test brings its own (relative to the repo root).
    """
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BIN / "gunicorn", "-c", config, "-b", f"127.0.0.1:{port}", *args, "wsgi:app"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log)
        yield base
    finally:
        process.terminate()
        process.wait(15)


def sign_in_over_http(browser: requests.Session, base: str, sub: str) -> None:
    """Sign ``browser`` in at ``base`` through the hostile test provider (which signs in ``login_hint``)."""
    start = browser.get(f"{base}/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text
    at_provider = requests.get(start.headers["Location"] + f"&login_hint={sub}", allow_redirects=False, timeout=10)
    callback = browser.get(at_provider.headers["Location"], allow_redirects=False, timeout=10)
    assert callback.status_code == 302, callback.text
