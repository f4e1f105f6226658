"""The shipped nginx configuration in front of real gunicorn: slow clients cannot starve the portal.

gunicorn's threaded workers hold a thread while a client trickles its request in; nginx reads requests
whole first. The test shows both: 100 slow-body and 30 unfinished-header connections straight at gunicorn
stall it, while through nginx (docs/deploy/nginx/portal-proxy.conf, as shipped) signed-in pages answer.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from tests.support.gunicorn import ROOT, gunicorn, prepare_database, sign_in_over_http
from tests.support.ports import free_port

pytestmark = pytest.mark.slow
NGINX = Path("/usr/sbin/nginx")
SNIPPET = ROOT / "docs" / "deploy" / "nginx" / "portal-proxy.conf"


@contextmanager
def nginx(upstream_port: int, tmp_path: Path) -> Iterator[str]:
    """Debian's nginx on a free port with the shipped proxy snippet, in front of ``upstream_port``."""
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: make test installs Debian's nginx package")
    port = free_port()
    snippet = tmp_path / "portal-proxy.conf"
    snippet.write_text(SNIPPET.read_text().replace("/srv/citizen-portal/", f"{ROOT}/"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    upstream portal_app {{ server 127.0.0.1:{upstream_port}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {snippet};
    }}
}}
"""
    )
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"])
    try:
        base = f"http://localhost:{port}"
        for _ in range(50):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                process.poll()
                assert process.returncode is None, (tmp_path / "nginx-error.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(10)


def slow_clients(stack: ExitStack, port: int) -> None:
    """100 requests that promise a 1 MB body and send 13 bytes, and 30 that never finish their headers."""
    for n in range(130):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        if n < 100:
            sock.sendall(
                b"POST /auth/backchannel-logout HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nlogout_token="
            )
        else:
            sock.sendall(b"GET /help HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")


@pytest.fixture
def served(gunicorn_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[int, str]]:
    """(gunicorn's port, nginx's base URL): the shipped gunicorn settings with two workers, nginx in front."""
    env = {**gunicorn_env, "PROXY_FIX_HOPS": "1"}
    prepare_database(env)
    port = free_port()
    with gunicorn(env, port, tmp_path / "gunicorn.log"), nginx(port, tmp_path) as base:
        yield port, base


def test_slow_clients_leave_signed_in_pages_fast_behind_nginx(served: tuple[int, str]) -> None:
    gunicorn_port, base = served
    resident = requests.Session()
    sign_in_over_http(resident, base, "slow-neighbour")
    nginx_port = int(base.rsplit(":", 1)[1])
    with ExitStack() as stack:
        slow_clients(stack, nginx_port)
        for _ in range(20):
            page = resident.get(f"{base}/account", timeout=5, allow_redirects=False)
            assert page.status_code == 200
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200

    # The same clients straight at gunicorn hold every worker thread: this is why nginx is in front.
    with ExitStack() as stack:
        slow_clients(stack, gunicorn_port)
        with pytest.raises(requests.Timeout):
            requests.get(f"http://127.0.0.1:{gunicorn_port}/healthz", timeout=3)


def test_nginx_overwrites_forwarded_headers(served: tuple[int, str]) -> None:
    _, base = served
    forged = {
        "X-Forwarded-For": "203.0.113.66",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/evil",
        "Host": "evil.example",
    }
    start = requests.get(f"{base}/login", headers=forged, allow_redirects=False, timeout=5)
    assert start.status_code == 302
    location = start.headers["Location"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in location and "evil" not in location
    assert start.headers["X-Request-ID"] and len(start.headers["X-Request-ID"]) == 32  # nginx's $request_id


def test_nginx_refuses_oversized_bodies(served: tuple[int, str]) -> None:
    _, base = served
    response = requests.post(f"{base}/auth/backchannel-logout", data=b"x" * (2 * 1024 * 1024), timeout=10)
    assert response.status_code == 413


def test_static_files_from_disk_fingerprinted_compressed_and_cached(served: tuple[int, str]) -> None:
    _, base = served
    page = requests.get(f"{base}/sign-in", timeout=10).text
    links = re.findall(r'(?:href|src)="(/static/[^"]+\.[0-9a-f]{12}\.\w+)"', page)
    assert any("uswds.min." in link for link in links), links
    for link in links:
        response = requests.get(base + link, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert response.status_code == 200, link
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        if link.endswith((".css", ".js")):
            assert response.headers["Content-Encoding"] == "gzip" and response.headers["Vary"] == "Accept-Encoding"
    font = next((ROOT / "app" / "static" / "uswds" / "fonts").rglob("*.woff2")).relative_to(ROOT / "app")
    assert requests.get(f"{base}/{font.as_posix()}", timeout=10).headers["Cache-Control"].endswith("immutable")
    plain = requests.get(f"{base}/static/css/portal.css", timeout=10)
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "public, max-age=60"
    assert requests.get(f"{base}/favicon.ico", timeout=10).status_code == 200
