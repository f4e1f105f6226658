"""The request edge: refuse what the database cannot store before a view or a query sees it.

PostgreSQL refuses a NUL character in text and an integer past 2**31 - 1; SQLite overflows past 2**63 - 1.
Either would surface as a 500 with a traceback, so URL parts are matched only without control characters,
ids only within a 32-bit integer (both a 404: no such page), and a NUL in the query or a form is a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import BaseConverter, IntegerConverter, Map

#: The largest value of a PostgreSQL ``integer`` column (every id in the schema is one).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` limited to what an id column holds: a larger number matches no page."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class TextConverter(BaseConverter):
    """The default ``<name>`` converter, without control characters (NUL included)."""

    regex = r"[^/\x00-\x1f\x7f]+"


def _has_nul(values: Any) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def init_edge(app: Flask) -> None:
    """Install the converters (before any route is added) and the NUL check on queries and forms."""
    app.url_map.converters.update({"default": TextConverter, "string": TextConverter, "int": IdConverter})

    @app.before_request
    def refuse_nul_bytes() -> None:
        if _has_nul(request.args) or (request.method == "POST" and _has_nul(request.form)):
            abort(400)
