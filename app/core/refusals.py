"""The one shape of a domain refusal: an exception with a short machine ``reason`` the caller turns into words."""

from __future__ import annotations


class Refused(Exception):
    """A rule said no; ``reason`` (``amount``, ``format``, ``unverified``…) says which, for the page or the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
