"""Starting the development processor: one of ours on the port is reused, another program's is refused."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from app.dev import payments as devprocessor
from tests.support.ports import free_port
from tests.support.threads import serve


def healthy_stranger(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Another program's server that answers every path, ``/v1/health`` included, with 200."""
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"ok": True}).encode()]


def test_ensure_running_reuses_only_a_processor_of_ours() -> None:
    port = free_port()
    server = devprocessor.start(port, production=False)
    try:
        assert devprocessor.ensure_running(port, production=False) is False  # reused, not started again
        with pytest.raises(devprocessor.DevProcessorUnavailable, match="PORTAL_ENV=production"):
            devprocessor.ensure_running(port, production=True)
    finally:
        server.shutdown()
        server.server_close()
    with serve(healthy_stranger) as url:
        other = int(url.rsplit(":", 1)[1])
        message = rf"Port {other} is in use by another program; set DEV_PAYMENTS_PORT to a free port"
        with pytest.raises(devprocessor.DevProcessorUnavailable, match=message):
            devprocessor.ensure_running(other, production=False)
