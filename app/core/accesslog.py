"""Log values made safe for one-line-per-event logs: control characters are written as escapes.

A path like ``/%0D%0A127.0.0.1 "GET /admin" 200`` would otherwise start a convincing line of its own in
gunicorn's access log (which prints the decoded path) or in the portal's text log.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def escape_controls(value: str) -> str:
    """``value`` with control characters and backslashes as Python-style escapes (``\\r``, ``\\n``, ``\\x00``)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


class AccessLogger(Logger):
    """Gunicorn's logger, with every access-log value escaped (gunicorn itself escapes only quotes)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """The access-log atoms, each string escaped."""
        found = super().atoms(resp, req, environ, request_time)
        return {key: escape_controls(value) if isinstance(value, str) else value for key, value in found.items()}
