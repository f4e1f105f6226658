"""Localhost TCP ports for test servers: a free one, whether a given one is free, one another program holds.

Standard library only at import: ``python -m tests.support.keycloak`` uses it without the test tools.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """True when nothing listens on ``port`` on localhost."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def held_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port another program holds: a socket listening on ``host`` that never answers; yields the port.

    ``::1`` skips the test where this machine has no IPv6 loopback.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        try:
            sock.bind((host, 0))
        except OSError:
            import pytest

            pytest.skip(f"no {host} here")
        sock.listen()
        yield int(sock.getsockname()[1])
