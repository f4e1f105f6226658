"""Spanish labels for services and bill lines (the mapping's ``[labels.es]``) and Spanish announcements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing import demo
from app.billing.announcements import current_announcements
from app.billing.extract import ExtractError, load_mapping
from app.billing.labels import Labels, labels_for
from app.billing.models import Announcement, BillingLabel
from app.database.db import db
from tests.billing.fixtures import TODAY
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.pages import html_page

SPANISH = {"Accept-Language": "es"}
MAPPING = """
[labels.es.services]
WATER = "Agua"
SEWER = "Alcantarillado"

[labels.es.lines.WATER]
"Water base charge and usage" = "Cargo base y consumo de agua"
"""


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extract-mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_mapping_reads_the_label_tables(tmp_path: Path) -> None:
    labels = load_mapping(_mapping(tmp_path, MAPPING)).labels
    assert labels == {
        ("es", "WATER", ""): "Agua",
        ("es", "SEWER", ""): "Alcantarillado",
        ("es", "WATER", "Water base charge and usage"): "Cargo base y consumo de agua",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[labels.fr.services]\nWATER = "Eau"\n', "labels.fr: no such page language (one of es)"),
        ('[labels.es.service]\nWATER = "Agua"\n', "labels.es: unknown table service (services or lines)"),
        ('[labels.es.services]\nWATER = ""\n', "labels.es.services.WATER must be a text of 1 to 200 characters"),
        ("[labels.es.services]\nWATER = 3\n", "labels.es.services.WATER must be a text of 1 to 200 characters"),
        ('[labels.es.lines]\nWATER = "Agua"\n', "labels.es.lines.WATER must be a table"),
        ('[labels.es.services]\n"" = "Agua"\n', "labels.es.services: '' must be 1 to 40 characters"),
        ('labels = "es"\n', "labels must be a table"),
    ],
)
def test_bad_label_table_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ExtractError) as refused:
        load_mapping(_mapping(tmp_path, text))
    assert message in str(refused.value)


def test_line_labels_keep_the_usage_the_billing_system_adds() -> None:
    labels = Labels({("WATER", ""): "Agua", ("WATER", "Water base charge and usage"): "Cargo base y consumo de agua"})
    assert labels.service("WATER") == "Agua" and labels.service("TRASH") == "TRASH"
    assert labels.line("WATER", "Water base charge and usage (5,050 gal)") == "Cargo base y consumo de agua (5,050 gal)"
    assert labels.line("WATER", "Water base charge and usage") == "Cargo base y consumo de agua"
    assert labels.line("SEWER", "Water base charge and usage") == "Water base charge and usage"
    assert labels.line("WATER", "Late fee") == "Late fee"


def test_import_stores_the_labels_and_the_next_replaces_them(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    demo.synth_extract(folder, today=TODAY, accounts=4)
    mapping = _mapping(tmp_path, MAPPING)
    result = app.test_cli_runner().invoke(args=["billing", "import", str(folder), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert labels_for(db.session(), "es").service("SEWER") == "Alcantarillado"
        assert labels_for(db.session(), "en").service("SEWER") == "SEWER"
    bad = _mapping(tmp_path, '[labels.es.services]\nWATER = ""\n')
    result = app.test_cli_runner().invoke(args=["billing", "import", str(folder), "--mapping", str(bad)])
    assert result.exit_code == 1 and "labels.es.services.WATER must be a text" in result.output
    result = app.test_cli_runner().invoke(args=["billing", "import", str(folder)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(select(BillingLabel)).all() == []


def test_demo_mapping_labels_every_service_and_line() -> None:
    labels = demo.demo_mapping().labels
    for name, *_ in demo.SERVICES:
        assert ("es", name, "") in labels and ("es", name, demo.DESCRIPTIONS[name]) in labels


@pytest.fixture
def pat(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> FlaskClient:
    """Signed in as "pat" with the demo's 100001 / 2000001 linked."""
    load_demo(app)
    signed_in_as("pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001")])
    return client


def _latest_bill(client: FlaskClient) -> str:
    page = html_page(client.get("/accounts/100001/bills"))
    return str(page.select('a[href^="/accounts/100001/bills/"]')[0]["href"])


def test_bill_and_summary_speak_spanish_with_the_demo_labels(pat: FlaskClient) -> None:
    bill = _latest_bill(pat)
    english = html_page(pat.get(bill))
    assert "WATER" in english.text and "Water base charge and usage (" in english.text
    spanish = html_page(pat.get(bill, headers=SPANISH))
    rows = [row.get_text(" ", strip=True) for row in spanish.select("#charges-heading ~ * tbody tr")]
    assert any(row.startswith("Agua Cargo base y consumo de agua (") for row in rows), rows
    assert "Alcantarillado" in spanish.text and "Saneamiento: basura y reciclaje" in spanish.text
    assert "WATER" not in spanish.text and "Water base charge" not in spanish.text
    summary = html_page(pat.get("/accounts/100001", headers=SPANISH))
    services = [th.get_text(strip=True) for th in summary.select("#services-heading ~ * tbody th")]
    assert services[:2] == ["Agua", "Alcantarillado"], services
    assert [span.get_text(strip=True) for span in summary.select("#services-heading ~ * a .usa-sr-only")] == ["Agua"]
    assert "SANITATION" in html_page(pat.get("/accounts/100001")).text


def test_home_announcements_in_spanish(pat: FlaskClient) -> None:
    english = html_page(pat.get("/"))
    assert "Hydrant flushing this month" in english.text and 'lang="en"' not in str(english.select("main"))
    spanish = html_page(pat.get("/", headers=SPANISH))
    assert "Limpieza de hidrantes este mes" in spanish.text and "Hydrant flushing" not in spanish.text
    assert "Vincule sus cuentas de servicios en línea" in spanish.text


def test_announcement_without_spanish_is_marked_english(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        session.add(Announcement(title="Office closed", body="Closed Friday.", starts_on=date(2026, 11, 1)))
        session.flush()
        today = date(2026, 11, 23)
        (spanish,) = current_announcements(session, today=today, language="es")
        assert (spanish.title, spanish.lang) == ("Office closed", "en")
        (english,) = current_announcements(session, today=today, language="en")
        assert english.lang is None
        session.rollback()
