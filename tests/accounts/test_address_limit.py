"""Many residents guessing from one address at once: the per-address limit holds exactly (PostgreSQL too)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.service import COUNTED_OUTCOMES, LinkError
from app.activity.models import AccountEvent
from app.billing.client import SqlBillingSource
from app.database.db import db
from tests.accounts.test_service import ADDR, NOW, RULES, make_resident


def test_simultaneous_guesses_from_one_address_stop_at_the_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    rules = replace(RULES, failures_per_resident=5, failures_per_address=30, failures_per_account=100)
    with app.app_context():
        residents = [make_resident(db.session, f"guesser-{n}") for n in range(40)]
        db.session.commit()
        engine = db.engine
        barrier = threading.Barrier(len(residents))
        errors: list[BaseException] = []

        def guess(resident_id: int) -> None:
            with app.app_context(), Session(engine) as session:
                barrier.wait()
                try:
                    service.link_account(
                        session, resident_id, "999999", "9999999",
                        billing=SqlBillingSource(lambda: session), rules=rules, client_addr=ADDR, now=NOW,
                    )  # fmt: skip
                except LinkError:
                    pass
                except BaseException as exc:  # a database error would be a 500 in the view
                    errors.append(exc)
                session.commit()

        threads = [threading.Thread(target=guess, args=(r,)) for r in residents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        counted = db.session.scalar(
            select(func.count())
            .select_from(AccountEvent)
            .where(AccountEvent.client_addr == ADDR, AccountEvent.outcome.in_(COUNTED_OUTCOMES))
        )
        assert counted == rules.failures_per_address
