"""Email through SMTP: ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_FROM``, ``SMTP_STARTTLS``.

Without ``SMTP_HOST`` nothing is sent (development): the message is logged without its body. A failure to
send is logged and never undoes what the email reports, which is already committed.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

log = logging.getLogger(__name__)


def send_mail(config: Mapping[str, Any], to: str, subject: str, body: str) -> bool:
    """Send a plain-text email; True when the server accepted it."""
    host = config.get("SMTP_HOST")
    if not to:
        return False
    if not host:
        log.info("SMTP_HOST is not set; email %r not sent", subject)
        return False
    message = EmailMessage()
    message["From"] = config.get("SMTP_FROM") or config.get("UTILITY_EMAIL") or "portal@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
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
