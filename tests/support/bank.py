"""Bank (ACH) debits on the development processor: its test account numbers, paying by bank on its hosted
page, and settling a debit days later as the resident's bank would (``POST /v1/charges/<reference>/settle``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from app.payments.devprocessor import DEV_API_KEY

ROUTING = "110000000"
#: A debit that goes through at once.
BANK_OK = "000123456789"
#: A debit that stays processing until it is settled (and may fail, or be returned after it succeeded).
SETTLES_LATER = "000222222227"


def pay_by_bank(checkout_url: str, account: str = SETTLES_LATER) -> str:
    """Fill the processor's bank page like a resident would; return the portal path it sends them back to."""
    assert requests.get(checkout_url, timeout=5).status_code == 200
    data = {"routing": ROUTING, "account": account, "action": "pay"}
    response = requests.post(checkout_url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    return urlsplit(response.headers["Location"]).path


def settle(
    processor_url: str, reference: str, outcome: str, *, failure: str = "", notify: bool = True
) -> requests.Response:
    """Settle (``succeeded``), fail or return the charge ``reference``; the processor sends its webhook
    unless ``notify`` is False (a webhook lost on the way)."""
    body: dict[str, Any] = {"outcome": outcome, "failure": failure, "notify": notify}
    return requests.post(
        f"{processor_url}/v1/charges/{reference}/settle",
        json=body,
        headers={"Authorization": f"Bearer {DEV_API_KEY}"},
        timeout=10,
    )
