"""A local Keycloak 26.7.3 and Mailpit, without containers: fetch once, import the realm, start, stop.

Keycloak comes from its own distribution on Maven Central (``mvn dependency:copy`` of
``org.keycloak:keycloak-quarkus-dist:26.7.3:tar.gz``), Mailpit is built from the Go module proxy; both land in
``${XDG_CACHE_HOME:-~/.cache}/citizen-portal/`` and are fetched once. The deps step also builds the pinned
stripe-mock there for ``tests/payments/test_stripe.py``. Used by ``make keycloak`` / ``make keycloak-deps``
(``python -m tests.support.keycloak up|deps``) and by the ``keycloak`` and ``stripe_mock`` pytest fixtures;
the portal itself never imports this module.

Each Keycloak runs from its own copy of the distribution (an *instance* directory: the distribution's jars are
hard links, ``lib/quarkus`` and ``conf`` are copied) because start-dev keeps its data (dev-file H2), its
import directory and its build under the home directory. The instance is kept between runs, so Keycloak's
one-time build (about 45 s on two cores) happens once; ``fresh=True`` empties its data so the realm is
imported again.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from tests.support.ports import free_port, port_free
from tests.support.realm import REALM_FILE

ROOT = Path(__file__).resolve().parents[2]
DEV_USERS = ROOT / "idp_config" / "dev" / "users.json"

KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:tar.gz"
MAILPIT_MODULE = "github.com/axllent/mailpit"
MAILPIT_VERSION = "v1.33.1"
STRIPE_MOCK_MODULE = "github.com/stripe/stripe-mock"
STRIPE_MOCK_VERSION = "v0.203.0"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"


def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/citizen-portal`` (``CITIZEN_PORTAL_CACHE`` overrides it)."""
    explicit = os.environ.get("CITIZEN_PORTAL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citizen-portal"


class SetupError(RuntimeError):
    """A prerequisite could not be fetched or a server did not start; the message says what to do."""


def _run(command: list[str], what: str, **kwargs: Any) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    except FileNotFoundError:
        raise SetupError(f"{what}: {command[0]} is not installed") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SetupError(f"{what} failed (exit {result.returncode}):\n{tail}")


def fetch_keycloak(cache: Path | None = None) -> Path:
    """The unpacked Keycloak distribution, fetched from Maven Central the first time."""
    cache = cache or cache_dir()
    home = cache / f"keycloak-{KEYCLOAK_VERSION}"
    if (home / "bin" / "kc.sh").exists():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        # dependency:copy, not unpack: Maven's unpacker truncates the distribution's long (PAX) file names.
        _run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={KEYCLOAK_ARTIFACT}",
                f"-DoutputDirectory={work}",
                "-Dmdep.stripVersion=true",
            ],
            f"mvn dependency:copy {KEYCLOAK_ARTIFACT}",
            cwd=work,
        )
        archive = Path(work) / "keycloak-quarkus-dist.tar.gz"
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        (Path(work) / f"keycloak-{KEYCLOAK_VERSION}").rename(home)
    return home


def _go_install(module: str, version: str, name: str, cache: Path | None) -> Path:
    """``<cache>/<name>-<version>/<name>``, built by ``go install module@version`` the first time."""
    cache = cache or cache_dir()
    bindir = cache / f"{name}-{version}"
    binary = bindir / name
    if binary.exists():
        return binary
    bindir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(bindir)}
    _run(["go", "install", f"{module}@{version}"], f"go install {module}@{version}", env=env, cwd=cache)
    return binary


def fetch_mailpit(cache: Path | None = None) -> Path:
    """The Mailpit binary, built from the Go module proxy the first time."""
    return _go_install(MAILPIT_MODULE, MAILPIT_VERSION, "mailpit", cache)


def stripe_mock_binary(cache: Path | None = None) -> Path:
    """Where the deps step puts the pinned stripe-mock (it may not be there yet)."""
    return (cache or cache_dir()) / f"stripe-mock-{STRIPE_MOCK_VERSION}" / "stripe-mock"


def fetch_stripe_mock(cache: Path | None = None) -> Path:
    """The pinned stripe-mock binary, built from the Go module proxy the first time."""
    return _go_install(STRIPE_MOCK_MODULE, STRIPE_MOCK_VERSION, "stripe-mock", cache)


def fetch_all(cache: Path | None = None) -> tuple[Path, Path, Path]:
    """What the deps step fetches: Keycloak, Mailpit and stripe-mock (idempotent)."""
    return fetch_keycloak(cache), fetch_mailpit(cache), fetch_stripe_mock(cache)


@dataclass(frozen=True)
class Ports:
    """Keycloak's HTTP and management ports, Mailpit's SMTP and HTTP ports."""

    http: int = 8080
    management: int = 9000
    smtp: int = 1025
    mail_http: int = 8025

    def available(self) -> Ports:
        """These ports, each replaced by a free one if something already listens there."""
        return Ports(
            *(p if port_free(p) else free_port() for p in (self.http, self.management, self.smtp, self.mail_http))
        )


def realm_environment(
    ports: Ports, portal_base_url: str, client_secret: str, realm: str = "citizens"
) -> dict[str, str]:
    """Development values for the realm's placeholders (as ``compose.yaml`` has them)."""
    return {
        "KC_REALM": realm,
        "KC_SSL_REQUIRED": "none",
        "PORTAL_BASE_URL": portal_base_url,
        "PORTAL_CLIENT_SECRET": client_secret,
        "SMTP_HOST": "localhost",
        "SMTP_PORT": str(ports.smtp),
        "SMTP_FROM": "noreply@springfield.localhost",
        "SMTP_STARTTLS": "false",
        "SMTP_AUTH": "false",
        "GOOGLE_CLIENT_ID": "set-me",
        "GOOGLE_CLIENT_SECRET": "set-me",
        "MICROSOFT_CLIENT_ID": "set-me",
        "MICROSOFT_CLIENT_SECRET": "set-me",
        "FACEBOOK_CLIENT_ID": "set-me",
        "FACEBOOK_CLIENT_SECRET": "set-me",
    }


def _wait_http(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise SetupError(f"{url}: the server exited with {process.returncode}:\n{tail}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SetupError(f"{url} did not answer 200 within {timeout:g} s (log: {log})")


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class Mailpit:
    """Mailpit: an SMTP server on ``smtp`` port and its HTTP API on ``http`` port (messages kept in memory)."""

    binary: Path
    smtp: int
    http: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.http}"

    def start(self) -> None:
        """Start Mailpit and wait until its API answers."""
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "--smtp",
                    f"127.0.0.1:{self.smtp}",
                    "--listen",
                    f"127.0.0.1:{self.http}",
                    "--disable-version-check",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_http(f"{self.url}/api/v1/info", 30, self.process, self.log)

    def stop(self) -> None:
        _stop(self.process)

    def messages_to(self, address: str) -> list[dict[str, Any]]:
        """Summaries of the messages to ``address``, newest first."""
        response = requests.get(f"{self.url}/api/v1/search", params={"query": f"to:{address}"}, timeout=5)
        response.raise_for_status()
        return list(response.json().get("messages") or [])

    def wait_for(self, address: str, subject: str, *, after: int = 0, timeout: float = 30) -> dict[str, Any]:
        """The full newest message to ``address`` whose subject contains ``subject`` (waiting for it).

        ``after``: how many such messages there were before, so an earlier one is not taken for the new one.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages_to(address) if subject.lower() in str(m.get("Subject", "")).lower()]
            if len(found) > after:
                response = requests.get(f"{self.url}/api/v1/message/{found[0]['ID']}", timeout=5)
                response.raise_for_status()
                return dict(response.json())
            if time.monotonic() > deadline:
                raise AssertionError(f"no email {subject!r} to {address} within {timeout:g} s")
            time.sleep(0.3)

    def count(self, address: str, subject: str) -> int:
        return len([m for m in self.messages_to(address) if subject.lower() in str(m.get("Subject", "")).lower()])


@dataclass
class Keycloak:
    """One Keycloak start-dev server from an instance directory, with the realm file imported at start."""

    distribution: Path
    instance: Path
    ports: Ports
    realm_env: dict[str, str]
    realm_text: str
    realm: str = "citizens"
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.ports.http}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.realm}"

    @property
    def log(self) -> Path:
        return self.instance / "keycloak.log"

    def prepare(self, *, fresh: bool) -> None:
        """Make the instance directory (once), then write the realm into its import directory."""
        if not (self.instance / "bin" / "kc.sh").exists():
            if self.instance.exists():
                shutil.rmtree(self.instance)
            shutil.copytree(self.distribution, self.instance, ignore=shutil.ignore_patterns("lib"))
            (self.instance / "lib").mkdir()
            shutil.copytree(self.distribution / "lib" / "lib", self.instance / "lib" / "lib", copy_function=os.link)
            shutil.copytree(self.distribution / "lib" / "quarkus", self.instance / "lib" / "quarkus")
            shutil.copy2(self.distribution / "lib" / "quarkus-run.jar", self.instance / "lib" / "quarkus-run.jar")
            if (self.distribution / "lib" / "app").exists():
                shutil.copytree(self.distribution / "lib" / "app", self.instance / "lib" / "app")
        data = self.instance / "data"
        if fresh and data.exists():
            shutil.rmtree(data)
        imports = data / "import"
        imports.mkdir(parents=True, exist_ok=True)
        target = imports / f"{self.realm}-realm.json"
        target.write_text(self.realm_text)
        target.chmod(0o600)  # it may hold rendered secrets

    def start(self, *, timeout: float = 600) -> None:
        """Start Keycloak (start-dev, import at start-up, health on the management port) and wait until ready."""
        env = {
            **os.environ,
            **self.realm_env,
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USERNAME,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JAVA_OPTS_KC_HEAP": "-XX:MaxRAMPercentage=25 -XX:InitialRAMPercentage=5",
        }
        command = [
            str(self.instance / "bin" / "kc.sh"),
            "start-dev",
            "--import-realm",
            f"--http-port={self.ports.http}",
            "--http-host=127.0.0.1",
            f"--http-management-port={self.ports.management}",
            "--health-enabled=true",
            f"--hostname={self.url}",
            *self.extra_args,
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.instance, start_new_session=True
            )
        _wait_http(f"http://localhost:{self.ports.management}/health/ready", timeout, self.process, self.log)

    def stop(self) -> None:
        _stop(self.process, timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def instance_lock(name: str, cache: Path | None = None) -> Iterator[Path]:
    """The first instance directory ``<name>-N`` that no other running process holds."""
    base = (cache or cache_dir()) / "instances"
    base.mkdir(parents=True, exist_ok=True)
    for n in range(10):
        lock: IO[str] = (base / f"{name}-{n}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        try:
            yield base / f"{name}-{n}"
        finally:
            lock.close()
        return
    raise SetupError(f"ten Keycloak instances named {name} are already running")


def render_realm(environ: Mapping[str, str], realm_file: Path = REALM_FILE) -> str:
    """The realm with its placeholders filled, as ``flask idp render`` writes it."""
    from app.idp.placeholders import render

    return render(realm_file.read_text(), environ)


def dev_users() -> list[dict[str, Any]]:
    """The development users of ``idp_config/dev/users.json`` (resident, unverified, staff)."""
    import json

    return list(json.loads(DEV_USERS.read_text()))


def _admin_env(keycloak: Keycloak) -> dict[str, str]:
    return {
        "KEYCLOAK_URL": keycloak.url,
        "KEYCLOAK_ADMIN_USERNAME": ADMIN_USERNAME,
        "KEYCLOAK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def up(ports: Ports, portal_base_url: str, client_secret: str) -> None:
    """``make keycloak``: Mailpit and Keycloak with the development realm and users, until Ctrl-C."""
    distribution, mailpit_binary = fetch_keycloak(), fetch_mailpit()
    environ = realm_environment(ports, portal_base_url, client_secret)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "idp"]
    child_env = {
        **os.environ,
        **environ,
        "FLASK_APP": "wsgi",
        "OIDC_ISSUER": f"http://localhost:{ports.http}/realms/citizens",
        "OIDC_CLIENT_SECRET": client_secret,
    }
    with instance_lock("dev") as instance:
        instance.mkdir(parents=True, exist_ok=True)
        rendered = instance.parent / "dev-realm.json"
        _run([*flask, "render", "--output", str(rendered)], "flask idp render", env=child_env, cwd=ROOT)
        mailpit = Mailpit(mailpit_binary, ports.smtp, ports.mail_http, instance.parent / "dev-mailpit.log")
        keycloak = Keycloak(distribution, instance, ports, environ, rendered.read_text())
        try:
            mailpit.start()
            keycloak.prepare(fresh=False)
            print(f"Starting Keycloak {KEYCLOAK_VERSION} (log: {keycloak.log}) ...", flush=True)
            keycloak.start()
            # The realm is imported only when it does not exist yet: apply brings a kept one up to date.
            _run(
                [*flask, "apply", "--dev-users", str(DEV_USERS)],
                "flask idp apply --dev-users",
                env={**child_env, **_admin_env(keycloak)},
                cwd=ROOT,
            )
            print(
                f"\nKeycloak {KEYCLOAK_VERSION}  {keycloak.url}/admin  ({ADMIN_USERNAME} / {ADMIN_PASSWORD})\n"
                f"Issuer            {keycloak.issuer}\n"
                f"Health            http://localhost:{ports.management}/health/ready\n"
                f"Mail (Mailpit)    {mailpit.url}\n"
                f"Test users        idp_config/dev/users.json (resident@example.org / Resident-dev-password-1)\n"
                f"Now run the portal against it in another terminal: make run-keycloak\n"
                f"Ctrl-C stops Keycloak and Mailpit (Keycloak's data stays in {instance}).",
                flush=True,
            )
            for stop_signal in (signal.SIGINT, signal.SIGTERM):
                signal.signal(stop_signal, signal.default_int_handler)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\nStopping Keycloak and Mailpit ...", flush=True)
        finally:
            keycloak.stop()
            mailpit.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.keycloak", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("deps", help="fetch Keycloak and build Mailpit and stripe-mock into the cache (idempotent)")
    start = sub.add_parser("up", help="run Keycloak and Mailpit with the development realm and users")
    start.add_argument("--portal-url", default=os.environ.get("PORTAL_BASE_URL", "http://localhost:5000"))
    start.add_argument("--client-secret", default=os.environ.get("PORTAL_CLIENT_SECRET", "local-portal-secret"))
    for name, default in (("http", 8080), ("management", 9000), ("smtp", 1025), ("mail-http", 8025)):
        start.add_argument(f"--{name}-port", type=int, default=default)
    args = parser.parse_args(argv)
    try:
        if args.command == "deps":
            keycloak, mailpit, stripe_mock = fetch_all()
            print(
                f"Keycloak {KEYCLOAK_VERSION}: {keycloak}\nMailpit {MAILPIT_VERSION}: {mailpit}\n"
                f"stripe-mock {STRIPE_MOCK_VERSION}: {stripe_mock}"
            )
            return 0
        ports = Ports(args.http_port, args.management_port, args.smtp_port, args.mail_http_port)
        busy = [p for p in (ports.http, ports.management, ports.smtp, ports.mail_http) if not port_free(p)]
        if busy:
            raise SetupError(f"port(s) {', '.join(map(str, busy))} already in use (is Keycloak already running?)")
        up(ports, args.portal_url.rstrip("/"), args.client_secret)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
