"""Under real gunicorn with the shipped settings, a request cannot write a log line of its own."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.gunicorn import gunicorn, migrate
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

FORGED = '127.0.0.1 "GET /staff/ HTTP/1.1" 200 1234 0s "forged"'


def _raw_get(port: int, target: str) -> bytes:
    """Send a request line exactly as given (no client-side quoting) and return the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_access_log_escapes_control_characters(tmp_path: Path) -> None:
    env = {
        "PORTAL_ENV": "development",
        "SECRET_KEY": "gunicorn-logs-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
        "OIDC_ISSUER": "http://127.0.0.1:9/unused",
        "OIDC_CLIENT_SECRET": "unused",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_ACCESS_LOG": "-",
    }
    migrate(env)
    port, log = free_port(), tmp_path / "gunicorn.log"
    with gunicorn(env, port, log):
        status = _raw_get(port, "/x%0D%0A" + FORGED.replace(" ", "%20").replace('"', "%22"))
        assert status.startswith(b"HTTP/1.1 404")
        _raw_get(port, "/after")
    lines = log.read_text().splitlines()
    assert [line for line in lines if "forged" in line] == [logged := next(line for line in lines if "/x" in line)]
    assert '/x\\r\\n127.0.0.1 \\"GET /staff/' in logged
    assert any('"GET /after HTTP/1.1" 404' in line for line in lines)
