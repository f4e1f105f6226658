"""What the pages of every feature ask of the resident's links: their own link to an account, or 404."""

from __future__ import annotations

from flask import abort, g
from sqlalchemy.orm import Session

from app.accounts.service import LinkedPair, find_link
from app.database.reads import read_session


def own_link_or_404(account_no: str, session: Session | None = None) -> LinkedPair:
    """The signed-in resident's own link to ``account_no``; 404 when there is none, whoever else linked it.

    Pages read it on the read session; a page whose answer decides a write (a payment) passes ``db.session``.
    """
    link = find_link(session or read_session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    return link
