"""Email through SMTP: ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_FROM``, ``SMTP_STARTTLS``.

Without ``SMTP_HOST`` outside production, the development mail catcher keeps each message instead: the
newest :data:`KEPT` rows of ``dev_mail``, shown at ``/_dev/mail`` (:mod:`app.dev`). In production
without ``SMTP_HOST`` nothing is sent and nothing is kept. A failure to send is logged and never undoes what
the email reports, which is already committed.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from flask_babel import get_locale
from sqlalchemy import DateTime, String, Text, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.clock import utcnow
from app.database.db import db

log = logging.getLogger(__name__)

#: How many messages the development mail catcher keeps; older ones go as new ones come.
KEPT = 50


class DevMail(db.Model):  # type: ignore[name-defined]
    """A message the development mail catcher kept instead of sending it (never written in production)."""

    __tablename__ = "dev_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    #: The language the message was written in, for the page's ``lang`` attribute.
    language: Mapped[str] = mapped_column(String(20), default="en")
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)


def catches_mail(config: Mapping[str, Any]) -> bool:
    """True when email goes to the development mail catcher: no ``SMTP_HOST``, and not in production."""
    return not config.get("SMTP_HOST") and config.get("PORTAL_ENV") != "production"


def sends_mail(config: Mapping[str, Any]) -> bool:
    """True when email goes anywhere: to ``SMTP_HOST``, or to the development mail catcher."""
    return bool(config.get("SMTP_HOST")) or catches_mail(config)


def send_mail(config: Mapping[str, Any], to: str, subject: str, body: str, html: str | None = None) -> bool:
    """Send an email (plain text, and ``html`` as its alternative); True when a server or the catcher took it."""
    if not to:
        return False
    message = EmailMessage()
    message["From"] = config.get("SMTP_FROM") or config.get("UTILITY_EMAIL") or "portal@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    host = config.get("SMTP_HOST")
    if not host:
        if catches_mail(config):
            return _catch(message, body, html)
        log.info("SMTP_HOST is not set; email %r not sent", subject)
        return False
    try:
        with smtplib.SMTP(str(host), int(config.get("SMTP_PORT") or 587), timeout=10) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(str(config["SMTP_USER"]), str(config.get("SMTP_PASSWORD") or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("email %r not sent: %s", subject, type(exc).__name__)
        return False
    return True


def _catch(message: EmailMessage, text: str, html: str | None) -> bool:
    """Keep ``message`` in ``dev_mail`` (its own commit: what it reports is committed already)."""
    session = db.session()
    try:
        session.add(
            DevMail(
                sender=str(message["From"])[:320],
                recipient=str(message["To"])[:320],
                subject=str(message["Subject"])[:998],
                language=_language(),
                text=text,
                html=html,
            )
        )
        session.flush()
        newest = select(DevMail.id).order_by(DevMail.id.desc()).limit(KEPT)
        session.execute(delete(DevMail).where(DevMail.id.not_in(newest)))
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("email %r not kept by the development mail catcher: %s", message["Subject"], type(exc).__name__)
        return False
    log.info("email %r kept by the development mail catcher (/_dev/mail)", message["Subject"])
    return True


def _language() -> str:
    try:
        return str(get_locale() or "en")
    except RuntimeError:  # outside a request and outside force_locale: the selector reads the request
        return "en"


def caught_mail(session: Session) -> list[DevMail]:
    """The messages the development mail catcher keeps, newest first."""
    return list(session.scalars(select(DevMail).order_by(DevMail.id.desc()).limit(KEPT)))
