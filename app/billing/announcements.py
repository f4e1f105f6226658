"""The announcements the city posts on the home page, from the billing read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.billing.models import Announcement


@dataclass(frozen=True)
class Notice:
    """An announcement as the home page shows it."""

    title: str
    body: str
    #: ``"en"`` when the page is in another language and the text is the English one (for ``lang``), else None.
    lang: str | None = None


def current_announcements(session: Session, *, today: date, language: str = "en") -> list[Notice]:
    """Announcements shown today, newest first, in Spanish where the utility wrote it (``language="es"``)."""
    return [
        _notice(item, language)
        for item in session.scalars(
            select(Announcement)
            .where(
                Announcement.starts_on <= today,
                or_(Announcement.ends_on.is_(None), Announcement.ends_on >= today),
            )
            .order_by(Announcement.starts_on.desc(), Announcement.id.desc())
        )
    ]


def _notice(item: Announcement, language: str) -> Notice:
    """The announcement in ``language`` when it has that text, else in English marked as English."""
    if language == "es" and item.title_es and item.body_es:
        return Notice(item.title_es, item.body_es)
    return Notice(item.title, item.body, None if language == "en" else "en")
