"""Money: integer cents in one value type, parsed once where text comes in, formatted once where it goes out.

The billing read model, payments, the outbox, the exports and the pages all carry :class:`Money` (or, in
database columns, its ``cents``). Text becomes money in one of two ways: :meth:`Money.parse` reads what a
person types (a form, a linking proof), :meth:`Money.from_plain` reads a file (the billing extract).
It leaves as text in one of two ways: :meth:`Money.plain` for files (``-12.34``), :func:`format_money` for
people, in their language (the ``money`` template filter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal

CURRENCY = "USD"
#: What a person types: an optional minus and dollar sign, then dollars with or without thousands commas and
#: up to two decimals after a point; or a decimal comma with exactly two decimals ("84,50", "1.234,50"),
#: which no thousands grouping can be; then optionally "US$" or "USD", as the Spanish pages write amounts.
#: Spaces anywhere are ignored. "1.000" is no amount (never one dollar).
_TYPED = re.compile(
    r"(-?)\$?(?:([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,9})(?:\.([0-9]{1,2}))?|([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,9}),([0-9]{2}))"
    r"(?:US\$|USD)?",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
#: The largest amount a file may carry, in dollars (the read model stores cents as BIGINT).
_FILE_LIMIT = 10**12


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An amount of U.S. dollars as integer cents (negative for a credit)."""

    cents: int = 0

    @classmethod
    def parse(cls, typed: str | None) -> Money | None:
        """What a person typed (``$1,234.50``, ``1234.5``, `` 84,50 ``, ``1.234,50 US$``, ``-12``), None when it is
        no amount."""
        match = _TYPED.fullmatch(_SPACES.sub("", typed or ""))
        if match is None:
            return None
        sign, dollars, decimals, comma_dollars, comma_decimals = match.groups()
        cents = int((dollars or comma_dollars).replace(",", "").replace(".", "")) * 100 + int(
            (decimals or comma_decimals or "0").ljust(2, "0")
        )
        return cls(-cents if sign else cents)

    @classmethod
    def from_plain(cls, text: str, decimal_separator: str = ".", thousands_separator: str = "") -> Money:
        """An amount as a file writes it (``-12.34``, or with the file's separators); ValueError otherwise."""
        cleaned = text.replace(thousands_separator, "") if thousands_separator else text
        cleaned = cleaned.replace(decimal_separator, ".") if decimal_separator != "." else cleaned
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise ValueError("is not an amount like 123.45") from None
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or abs(amount) >= _FILE_LIMIT:
            raise ValueError("is not an amount like 123.45")
        return cls(int(amount * 100))

    @classmethod
    def of(cls, value: Money | int | None) -> Money:
        """``value`` as Money: cents as they are, None as zero."""
        if isinstance(value, Money):
            return value
        return cls(value or 0)

    def plain(self) -> str:
        """As files and form fields write it: ``-12.34``."""
        sign = "-" if self.cents < 0 else ""
        return f"{sign}{abs(self.cents) // 100}.{abs(self.cents) % 100:02d}"

    @property
    def dollars(self) -> Decimal:
        """The amount in dollars, two places (for a processor or a library that wants them)."""
        return Decimal(self.cents).scaleb(-2)

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def __radd__(self, other: int) -> Money:  # sum() starts from 0
        if other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - other.cents)

    def __neg__(self) -> Money:
        return Money(-self.cents)

    def __bool__(self) -> bool:
        return self.cents != 0

    def __str__(self) -> str:
        return self.plain()


ZERO = Money(0)


def typed_money(value: Money | int, locale: str) -> str:
    """``value`` as a person reading ``locale`` would type it in a form: ``1234.50``, ``1234,50`` (read back by
    :meth:`Money.parse`)."""
    return format_decimal(Money.of(value).dollars, format="0.00", locale=locale)


def format_money(value: Money | int, locale: str) -> str:
    """``value`` (Money, or integer cents) for a person reading ``locale``: ``$1,234.50``, ``1234,50 US$``.

    Anything else is refused: a number of dollars would show a hundred times too much or too little.
    """
    if isinstance(value, bool) or not isinstance(value, Money | int):
        raise TypeError(f"format_money takes Money or integer cents, not {type(value).__name__}")
    return format_currency(Money.of(value).dollars, CURRENCY, locale=locale)
