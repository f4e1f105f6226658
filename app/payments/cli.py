"""``flask payments run``: schedule Auto Pay for new bills, take the charges that are due, clear posted lines."""

from __future__ import annotations

import os
import socket

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from app.billing import billing_source, city_today
from app.config import get_settings
from app.extensions import db
from app.payments import payment_processor, service
from app.payments.processor import ProcessorUnavailable
from app.timeutil import utcnow

payments_cli = AppGroup("payments", help="Auto Pay charges and payment bookkeeping.")


@payments_cli.command("run")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True)
def run_command(limit: int) -> None:
    """Take due Auto Pay charges (each once, even with several instances running this at the same time)."""
    from app.payments.views import send_notice

    session = db.session()
    now, today = utcnow(), city_today()
    posted = service.match_posted(session, now=now)
    session.commit()
    try:
        notices = service.schedule_charges(
            session,
            billing_source(),
            today=today,
            days_before=get_settings().autopay_days_before_due,
            now=now,
        )
        session.commit()
    except IntegrityError:  # another instance is scheduling the same bills right now; it emails the notices
        session.rollback()
        notices = []
    worker = f"{socket.gethostname()}:{os.getpid()}"
    claimed = service.claim_due(session, today=today, worker=worker, now=now, limit=limit)
    session.commit()
    charged = failed = 0
    processor = None
    for charge_id in claimed:
        try:
            processor = processor or payment_processor()
            notice = service.take_charge(session, processor, billing_source(), charge_id, today=today, now=utcnow())
        except ProcessorUnavailable as exc:
            session.rollback()
            service.release_claim(session, charge_id)
            session.commit()
            click.echo(f"processor unavailable ({exc}); charge {charge_id} left for the next run", err=True)
            continue
        session.commit()
        if notice is not None:
            charged += notice.kind == "charged"
            failed += notice.kind == "failed"
            notices.append(notice)
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "en"):  # no request: no browser language
        for notice in notices:
            send_notice(notice)
    click.echo(
        f"Auto Pay: {len(claimed)} due, {charged} charged, {failed} declined; "
        f"{posted} payments posted by the billing system."
    )
