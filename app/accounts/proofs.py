"""The second half of a linking pair, as the city chooses it (``LINK_PROOF``), and how typed input is compared.

``customer_id`` is the default. ``last_name`` and ``last_bill_amount`` are checked against the account's current
customer (``BillingSource.account_holder``); whichever proof is used, a link records that customer's ID.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from enum import StrEnum

from app.core.money import Money
from app.core.refusals import Refused


class LinkProof(StrEnum):
    """What a resident types besides the account number; the value is the form field's name."""

    CUSTOMER_ID = "customer_id"
    LAST_NAME = "last_name"
    LAST_BILL_AMOUNT = "last_bill_amount"


class InvalidProof(Refused, ValueError):
    """Input that cannot be a last name or an amount; ``reason`` is empty, too_long or format."""


#: The longest last name accepted (the extract's column size).
MAX_NAME = 100
#: Letters that Unicode does not decompose into a base letter and a mark, as people type them without one.
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})
_SPACES = re.compile(r"\s+")


def fold_name(raw: str | None) -> str:
    """A last name reduced to what identifies it: letters and digits, without case or accents.

    Compatibility decomposition (NFKD) splits accented letters and full-width forms; marks, spaces and
    punctuation (apostrophes, hyphens, periods, commas) are dropped, so ``O'Brien``, ``O’BRIEN``, ``obrien``
    and ``O Brien`` are one name, as are ``Muñoz`` and ``MUNOZ``, ``Smith-Jones`` and ``Smith Jones``.
    """
    text = unicodedata.normalize("NFKD", (raw or "").casefold()).translate(_PLAIN_LETTERS)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def check_name(raw: str | None) -> str:
    """A last name as typed, stripped; InvalidProof when it is empty (no letter) or too long."""
    value = (raw or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidProof("too_long")
    if not fold_name(value):
        raise InvalidProof("empty")
    return value


def parse_bill_amount(raw: str | None) -> int:
    """Dollars as typed (``$1,234.50``, ``1234.5``, `` 1234.50 ``, ``84,50``) in integer cents (:meth:`Money.parse`).

    InvalidProof when it is empty or not an amount of money.
    """
    if not _SPACES.sub("", raw or ""):
        raise InvalidProof("empty")
    amount = Money.parse(raw)
    if amount is None:
        raise InvalidProof("format")
    return amount.cents


def name_matches(typed: str, on_file: str) -> bool:
    """True when the typed last name folds to the one on file (never for an empty name on file)."""
    expected = fold_name(on_file)
    return bool(expected) and hmac.compare_digest(fold_name(typed).encode(), expected.encode())


def amount_matches(typed: str, last_bill: Money | None) -> bool:
    """True when the typed amount is the last bill's to the cent.

    No bill, or a bill of $0.00 (anyone could guess it), never matches.
    """
    if last_bill is None:
        return False
    expected = last_bill.cents
    try:
        given = parse_bill_amount(typed)
    except InvalidProof:
        return False
    return expected != 0 and hmac.compare_digest(str(given).encode(), str(expected).encode())
