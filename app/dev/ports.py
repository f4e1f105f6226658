"""The ports of what ``flask dev run`` serves: whether another program holds one, and what to say then.

A port counts as taken when anything accepts a connection on it at ``127.0.0.1`` or ``::1``: a browser
may resolve ``localhost`` to either, so a program listening on IPv6 only would get the portal's visitors
even though binding ``127.0.0.1`` succeeds.
"""

from __future__ import annotations

import socket

#: The addresses ``localhost`` may resolve to.
LOOPBACK = ("127.0.0.1", "::1")


def accepts_connections(port: int) -> bool:
    """True when something on this machine accepts TCP connections on ``localhost:port``."""
    for host in LOOPBACK:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:  # refused, or no IPv6 here
            continue
    return False


def free_port_after(port: int) -> int:
    """A port from ``port + 10`` on that nothing accepts connections on now: a suggestion, not a reservation."""
    candidate = port + 10
    while candidate < 65535 and accepts_connections(candidate):
        candidate += 1
    return candidate


def port_taken(port: int, variable: str) -> str:
    """What to tell the developer when another program holds ``port``, which the setting ``variable`` chose."""
    return (
        f"Port {port} is in use by another program; set {variable} to a free port "
        f"(make run {variable}={free_port_after(port)})"
    )
