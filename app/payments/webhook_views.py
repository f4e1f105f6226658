"""The processor's webhook: verified by its signature (exempt from CSRF), applied once, answered 200."""

from __future__ import annotations

import logging

from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from app.core.clock import utcnow
from app.database.db import db
from app.payments import bp
from app.payments.configured import payment_processor
from app.payments.notices import send_notice
from app.payments.processor import InvalidWebhook, ProcessorUnavailable
from app.payments.webhooks import handle_event

log = logging.getLogger(__name__)


@bp.post("/payments/webhook")
def webhook() -> ResponseReturnValue:
    """The processor's signed event: verified, applied once, answered 200 (400 when forged or malformed)."""
    try:
        event = payment_processor().parse_webhook(request.get_data(), dict(request.headers))
    except InvalidWebhook as exc:
        log.warning("webhook refused: %s", exc)
        return {"error": "invalid signature"}, 400
    except ProcessorUnavailable:
        return {"error": "payments are not configured"}, 503
    try:
        handled = handle_event(db.session(), event, now=utcnow())
        db.session.commit()
    except IntegrityError:  # the same event delivered twice at once: the other delivery applied it
        db.session.rollback()
        return {"result": "duplicate"}, 200
    if handled.notice is not None:
        send_notice(handled.notice)
    return {"result": handled.result}, 200
