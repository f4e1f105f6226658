"""Account-event outcomes carry their words and whether they are failures."""

from __future__ import annotations

from flask import Flask

from app.activity.models import Outcome


def test_every_outcome_has_words_and_failures_are_the_refused_attempts(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "es"}):
        app.preprocess_request()
        labels = {outcome: str(outcome.label) for outcome in Outcome}
    assert all(labels.values()) and len(set(labels.values())) == len(Outcome)
    assert labels[Outcome.LINKED] != "Linked"  # Spanish
    failures = {outcome for outcome in Outcome if outcome.is_failure}
    assert failures == {o for o in Outcome if o.value.startswith("failed_")} | {Outcome.RATE_LIMITED}
