"""The changes file as ``docs/billing-extract.md`` documents it: every kind payments write, every key of their value."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing.models import BillingAccount
from app.database.db import db
from app.payments.models import Payment
from tests.billing.pages import add_links, load_demo, resident_id
from tests.payments.test_pay import start_payment
from tests.support.pages import csrf_token, csrf_token_from
from tests.support.payments import Processor, new_bill, pay_on_hosted_page, run_job
from tests.support.ports import free_port
from tests.support.signin import open_session
from tests.support.threads import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "billing-extract.md"
DOLLARS = re.compile(r"-?[0-9]+\.[0-9]{2}")


def changes_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## The changes file")
    return text[start : text.index("\n## ", start + 1)]


def table_after(section: str, heading: str) -> dict[str, list[str]]:
    """The first table after ``heading``: each name in its first column (backticks dropped) and the other cells."""
    rows: dict[str, list[str]] = {}
    lines = section[section.index(heading) :].splitlines()
    if not heading.startswith("|"):  # a heading: the table's own header is further down
        lines = lines[next(n for n, line in enumerate(lines) if line.startswith("|")) :]
    for line in lines[2:]:  # below the header and its |---| line
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in cells[0].split(","):
            rows[name.strip().strip("`")] = cells[1:]
    return rows


def quoted(cell: str) -> set[str]:
    """The values a table cell names in backticks."""
    return set(re.findall(r"`([^`]+)`", cell))


@pytest.fixture
def fee_app(make_app: Callable[..., Flask], processor: Processor) -> Iterator[Flask]:
    """A portal on the development processor that charges convenience fees, served over HTTP for its webhooks."""
    port = free_port()
    app = make_app(
        DEV_PAYMENTS_PORT=processor.port,
        PORTAL_BASE_URL=f"http://localhost:{port}",
        PAYMENT_CARD_FEE="flat:150",
        PAYMENT_ACH_FEE="flat:75",
    )
    load_demo(app)
    with serve(app, port):
        yield app


@pytest.fixture
def resident(fee_app: Flask) -> FlaskClient:
    client = fee_app.test_client()
    open_session(client, "pat")
    add_links(fee_app, resident_id(fee_app, "pat"), [("100001", "2000001")])
    return client


def enrol_by_bank(client: FlaskClient) -> None:
    """Turn Auto Pay on with a bank account saved on the processor's page."""
    html = client.get("/accounts/100001/autopay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "method": "ach", "max_amount": ""}
    started = client.post("/accounts/100001/autopay", data=data)
    assert started.status_code == 303, started.get_data(as_text=True)
    back = pay_on_hosted_page(started.headers["Location"], routing="110000000", account="000123456789")
    assert client.get(back).status_code == 302


def make_every_kind_of_change(app: Flask, client: FlaskClient) -> None:
    """Bill delivery, a card payment with its fee, Auto Pay by bank (on, a maximum, a charge, off)."""
    with app.app_context():
        current = db.session.scalar(select(BillingAccount.bill_delivery).filter_by(account_no="100001"))
    token = csrf_token(client, "/accounts/100001/delivery")
    other = "paper" if current == "email" else "email"
    assert client.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": other}).status_code == 302
    started = start_payment(client, amount="42.50", method="card")
    assert started.status_code == 303
    client.get(pay_on_hosted_page(started.headers["Location"]))
    enrol_by_bank(client)
    html = client.get("/accounts/100001/autopay").get_data(as_text=True)
    maximum = {"csrf_token": csrf_token_from(html), "max_amount": "250"}
    assert client.post("/accounts/100001/autopay/maximum", data=maximum).status_code == 302
    new_bill(app, "B-OUT-1", 6150)
    assert "1 charged" in run_job(app)
    assert client.post("/accounts/100001/autopay/cancel", data={"csrf_token": maximum["csrf_token"]}).status_code == 302


def test_the_changes_file_holds_what_the_documentation_says(
    fee_app: Flask, resident: FlaskClient, tmp_path: Path
) -> None:
    make_every_kind_of_change(fee_app, resident)
    result = fee_app.test_cli_runner().invoke(args=["billing", "export-changes", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (exported,) = tmp_path.glob("portal-changes-*.csv")
    with exported.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))

    section = changes_section()
    columns = table_after(section, "| column | meaning |")
    assert header == list(columns), "the documented columns, in order"
    kinds = {kind: cells[0].strip("`") for kind, cells in table_after(section, "| kind | field | value |").items()}
    delivery_values = quoted(table_after(section, "| kind | field | value |")["bill_delivery"][1])
    keys = {kind: table_after(section, f"#### `{kind}`") for kind in ("payment", "autopay")}
    assert set(kinds) == {"bill_delivery", "payment", "autopay"}

    written = [dict(zip(header, row, strict=True)) for row in rows]
    assert [r["kind"] for r in written] == ["bill_delivery", "payment", "autopay", "autopay", "payment", "autopay"]
    with fee_app.app_context():
        paid = {p.receipt_no: p for p in db.session.scalars(select(Payment).filter_by(status="succeeded"))}
        db.session.expunge_all()
    for row in written:
        stamp = datetime.fromisoformat(row["changed_at"])
        assert stamp.utcoffset() == timedelta(0), f"changed_at {row['changed_at']!r} must carry its UTC offset"
        assert row["field"] == kinds[row["kind"]], row
        if row["kind"] == "bill_delivery":
            assert row["value"] in delivery_values == {"email", "paper"}
            continue
        value = json.loads(row["value"])
        documented = keys[row["kind"]]
        if row["kind"] == "autopay":
            assert value["status"] in quoted(documented["status"][0])
            expected = {"status", "max"} if value["status"] == "active" else {"status"}
            assert set(value) == expected and expected <= set(documented)
            assert value.get("max", "") == "" or DOLLARS.fullmatch(value["max"])
            continue
        assert set(value) == set(documented), f"payment keys {sorted(value)} vs documented {sorted(documented)}"
        assert value["method"] in quoted(documented["method"][0]) == {"card", "ach"}
        payment = paid[value["receipt"]]
        assert value["reference"] == payment.reference
        assert (
            value["amount"] == f"{payment.amount_cents / 100:.2f}" and value["fee"] == f"{payment.fee_cents / 100:.2f}"
        )
    payments = [json.loads(r["value"]) for r in written if r["kind"] == "payment"]
    assert [(p["method"], p["amount"], p["fee"]) for p in payments] == [
        ("card", "42.50", "1.50"),
        ("ach", "61.50", "0.00"),
    ]
    autopay = [json.loads(r["value"]) for r in written if r["kind"] == "autopay"]
    assert autopay == [{"status": "active", "max": ""}, {"status": "active", "max": "250.00"}, {"status": "cancelled"}]


def test_the_documented_example_file_parses_as_documented() -> None:
    section = changes_section()
    example = section[section.index("```csv") + len("```csv") : section.index("```", section.index("```csv") + 6)]
    header, *rows = list(csv.reader(io.StringIO(example.strip() + "\n")))
    assert header == list(table_after(section, "| column | meaning |"))
    kinds = table_after(section, "| kind | field | value |")
    seen = set()
    for row in map(lambda r: dict(zip(header, r, strict=True)), rows):
        seen.add(row["kind"])
        assert datetime.fromisoformat(row["changed_at"]).utcoffset() == timedelta(0)
        assert row["field"] == kinds[row["kind"]][0].strip("`")
        if row["kind"] != "bill_delivery":
            assert set(json.loads(row["value"])) <= set(table_after(section, f"#### `{row['kind']}`"))
    assert seen == set(kinds)
