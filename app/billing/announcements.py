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


def current_announcements(session: Session, *, today: date) -> list[Notice]:
    """Announcements shown today, newest first."""
    return [
        Notice(item.title, item.body)
        for item in session.scalars(
            select(Announcement)
            .where(
                Announcement.starts_on <= today,
                or_(Announcement.ends_on.is_(None), Announcement.ends_on >= today),
            )
            .order_by(Announcement.starts_on.desc(), Announcement.id.desc())
        )
    ]
