"""Bring up what the test suite needs on this machine, then run a command: ``services.py [up | run -- CMD ...]``.

What it ensures, each only when it is missing or not answering (so a second run reuses what runs):

- Debian packages: ``postgresql``, ``redis-server``, ``chromium`` and ``nginx`` (one ``apt-get install`` for all);
- PostgreSQL: unless ``TEST_POSTGRES_URL`` names a server of your own, a local cluster (found with
  ``pg_lsclusters``, created with ``pg_createcluster`` if there is none) is started, and a test role
  ``portal_test`` (password ``portal_test``, CREATEDB) is created in it; the suite creates its own databases;
- Redis: unless ``TEST_REDIS_URL`` names one of your own, ``redis-server`` on 127.0.0.1:6379, nothing saved.

Root runs the commands as they are; another user runs them through ``sudo -n`` when that works, and is otherwise
told exactly what to run. Whatever cannot be brought up ends the run with a message naming it. ``run`` exports
``TEST_POSTGRES_URL`` (a URL of the role that creates databases) and ``TEST_REDIS_URL`` to the command. Only the
standard library is used, so this runs before any virtualenv exists.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TEST_ROLE = "portal_test"
LOCAL_POSTGRES_URL = f"postgresql://{TEST_ROLE}:{TEST_ROLE}@127.0.0.1:{{port}}/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM = Path("/usr/bin/chromium")
NGINX = Path("/usr/sbin/nginx")


class ServiceError(RuntimeError):
    """A service the suite needs could not be brought up; the message names it and says what to do."""


def log(message: str) -> None:
    """One line on stderr, prefixed so it stands out in CI output."""
    print(f"[services] {message}", file=sys.stderr, flush=True)


def privileged(command: list[str], *, user: str | None = None) -> list[str]:
    """``command`` as root (or as ``user``): directly when root, else through ``sudo -n``."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *command] if user else command
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", *(["-u", user] if user else []), *command]
    raise ServiceError(
        "this needs root: run it as root, give this user passwordless sudo, or run yourself:\n    "
        + shlex.join(["sudo", *(["-u", user] if user else []), *command])
    )


def run(command: list[str], *, what: str, user: str | None = None, quiet: bool = False) -> str:
    """Run a privileged command; raise ``ServiceError`` naming ``what`` when it fails."""
    full = privileged(command, user=user)
    result = subprocess.run(
        full, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )
    if result.returncode != 0:
        raise ServiceError(f"{what} failed ({shlex.join(full)}):\n{result.stderr.strip() or result.stdout.strip()}")
    if not quiet and result.stdout.strip():
        log(result.stdout.strip().splitlines()[-1])
    return result.stdout


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(check: object, what: str, seconds: float = 30.0) -> None:
    """Call ``check()`` until it is true, or raise naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise ServiceError(f"{what} did not answer within {seconds:.0f} s")


# --- Debian packages -------------------------------------------------------------------------------------------


def missing_packages() -> list[str]:
    """The Debian packages the suite needs that are not installed."""
    wanted = {
        "postgresql": not os.environ.get("TEST_POSTGRES_URL") and not shutil.which("pg_lsclusters"),
        "redis-server": not os.environ.get("TEST_REDIS_URL") and not shutil.which("redis-server"),
        "chromium": not CHROMIUM.exists(),
        "nginx": not NGINX.exists(),  # the buffering proxy in front of gunicorn (tests/production/test_nginx.py)
    }
    return [name for name, needed in wanted.items() if needed]


def install_packages(names: list[str]) -> None:
    """Install ``names`` from Debian's packages in one go (after one ``apt-get update``)."""
    if not names:
        return
    log(f"installing from Debian's packages: {' '.join(names)}")
    run(["apt-get", "update", "-qq"], what="apt-get update", quiet=True)
    run(["apt-get", "install", "-y", "-qq", *names], what=f"installing {' '.join(names)}", quiet=True)


# --- PostgreSQL ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """One line of ``pg_lsclusters``."""

    version: str
    name: str
    port: int
    online: bool


def clusters() -> list[Cluster]:
    """The Debian PostgreSQL clusters on this machine."""
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        version, name, port, status, *_ = line.split()
        found.append(Cluster(version, name, int(port), status.startswith("online")))
    return found


def postgres_role_sql() -> str:
    """Create (or reset) the test role: it logs in with a password, creates databases, ends its own backends."""
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TEST_ROLE}') THEN "
        f"CREATE ROLE {TEST_ROLE} LOGIN CREATEDB PASSWORD '{TEST_ROLE}'; "
        f"ELSE ALTER ROLE {TEST_ROLE} LOGIN CREATEDB PASSWORD '{TEST_ROLE}'; END IF; END $$; "
        f"GRANT pg_signal_backend TO {TEST_ROLE};"
    )


def ensure_postgres() -> str:
    """A PostgreSQL URL of a role that may create databases: the caller's, or a local cluster's test role."""
    if url := os.environ.get("TEST_POSTGRES_URL"):
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 5432
        wait_for(lambda: answers(host, port), f"PostgreSQL at TEST_POSTGRES_URL ({host}:{port})", 10)
        return url
    if not shutil.which("pg_lsclusters"):
        raise ServiceError("PostgreSQL is not installed (Debian package postgresql)")
    found = clusters()
    if not found:
        version = max((p.name for p in Path("/usr/lib/postgresql").iterdir()), key=lambda v: int(v.split(".")[0]))
        log(f"creating PostgreSQL cluster {version}/main")
        run(["pg_createcluster", version, "main"], what="creating a PostgreSQL cluster")
        found = clusters()
    cluster = next((c for c in found if c.online), found[0])
    if not cluster.online:
        log(f"starting PostgreSQL {cluster.version}/{cluster.name} on port {cluster.port}")
        run(["pg_ctlcluster", cluster.version, cluster.name, "start"], what="starting PostgreSQL")
    wait_for(lambda: answers("127.0.0.1", cluster.port), f"PostgreSQL {cluster.version}/{cluster.name}")
    run(
        ["psql", "-q", "-p", str(cluster.port), "-v", "ON_ERROR_STOP=1", "-c", postgres_role_sql()],
        what=f"creating the PostgreSQL test role {TEST_ROLE}",
        user="postgres",
    )
    return LOCAL_POSTGRES_URL.format(port=cluster.port)


# --- Redis -----------------------------------------------------------------------------------------------------


def redis_pongs(url: str) -> bool:
    """Redis at ``url`` answers PING (no client library needed)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2) as sock:
            if parts.password:
                user = parts.username or "default"
                sock.sendall(f"AUTH {user} {parts.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> str:
    """A Redis URL that answers: the caller's ``TEST_REDIS_URL``, or a local ``redis-server`` started here."""
    url = os.environ.get("TEST_REDIS_URL") or LOCAL_REDIS_URL
    if redis_pongs(url):
        return url
    if os.environ.get("TEST_REDIS_URL"):
        raise ServiceError(f"Redis at TEST_REDIS_URL ({url}) does not answer")
    if not shutil.which("redis-server"):
        raise ServiceError("Redis is not installed (Debian package redis-server)")
    log("starting redis-server on 127.0.0.1:6379 (nothing saved to disk)")
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""]
        + ["--appendonly", "no", "--dir", "/tmp", "--logfile", "/tmp/portal-test-redis.log"],
        check=True,
    )
    wait_for(lambda: redis_pongs(url), "redis-server on 127.0.0.1:6379", 10)
    return url


# --- entry point -----------------------------------------------------------------------------------------------


def ensure_all() -> dict[str, str]:
    """Install and start everything; return the variables that point the suite at it."""
    install_packages(missing_packages())
    if not CHROMIUM.exists():
        raise ServiceError(f"Chromium is missing at {CHROMIUM} after installing Debian's chromium package")
    env = {"TEST_POSTGRES_URL": ensure_postgres(), "TEST_REDIS_URL": ensure_redis()}
    log("ready: " + ", ".join(f"{k}={redact(v)}" for k, v in env.items()) + f", chromium at {CHROMIUM}")
    return env


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def main(argv: list[str]) -> int:
    """``up`` ensures the services; ``run -- CMD ...`` ensures them and runs CMD with the variables set."""
    if not argv or argv[0] not in {"up", "run"} or (argv[0] == "run" and argv[1:2] != ["--"]):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    try:
        env = ensure_all()
    except ServiceError as exc:
        log(f"cannot bring up what the tests need: {exc}")
        return 1
    if argv[0] == "up":
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    return subprocess.run(argv[2:], env={**os.environ, **env}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
