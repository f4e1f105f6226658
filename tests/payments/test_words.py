"""Payments' stored values (statuses, methods, the processor's "Card ending 4242") read in the page's language."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template_string

CATALOGUE = Path(__file__).resolve().parents[2] / "app" / "translations" / "es" / "LC_MESSAGES" / "messages.po"

WORDS = (
    '{% from "payments/_words.html" import method_label, payment_status, payment_source, enrolment_status %}'
    '{{ method_label("Card ending 4242") }}|{{ method_label("Bank account ending 6789") }}|{{ method_label("Visa") }}|'
    '{{ payment_status("open") }}|{{ payment_source("guest") }}|{{ enrolment_status("setup") }}'
)


def test_stored_payment_values_read_in_spanish(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "es"}):
        spanish = render_template_string(WORDS).split("|")
    assert spanish == [
        "Tarjeta terminada en 4242",
        "Cuenta bancaria terminada en 6789",
        "Visa",
        "En curso",
        "Pagar ahora, sin iniciar sesión",
        "En configuración",
    ]
    with app.test_request_context():
        assert render_template_string(WORDS).split("|")[:2] == ["Card ending 4242", "Bank account ending 6789"]


def test_spanish_says_monto_for_every_amount() -> None:
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po)
    assert not [m.id for m in catalogue if m.id and "importe" in str(m.string).lower()]
