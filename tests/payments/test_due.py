"""What is due, from plain values: one figure for every page (``app.payments.owed.what_is_due``)."""

from __future__ import annotations

from datetime import date

from app.core.money import Money
from app.payments.owed import what_is_due

DUE = date(2026, 12, 25)


def test_pending_payments_are_taken_off_the_amount_and_the_past_due_part_first() -> None:
    due = what_is_due(9378, 1000, 5000, DUE)
    assert due.amount == Money(8378) and due.past_due == Money(4000) and due.pending == Money(1000)
    assert due.due_date == DUE and not due.nothing_due and not due.credit


def test_paying_more_than_the_balance_leaves_nothing_due_and_a_credit() -> None:
    due = what_is_due(9378, 9878, 9378, DUE)
    assert due.nothing_due and due.due_date is None and due.past_due == Money(0) and due.credit == Money(500)
    assert what_is_due(-250, 0, 0, None).credit == Money(250)
