"""Money: one type, one parse for what people type, one for files, one format for people."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import ZERO, Money, format_money, typed_money


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("$1,234.50", 123450),
        ("1234.5", 123450),
        (" 1234.50 ", 123450),
        ("84,50", 8450),
        ("1,000", 100000),
        ("12", 1200),
        ("-12.3", -1230),
        ("$ 0.07", 7),
        ("1,00", 100),
        ("82,40\xa0US$", 8240),  # as the Spanish pages show amounts
        ("5.000,00 US$", 500000),
        ("$12usd", 1200),
    ],
)
def test_typed_amounts_are_read_to_the_cent(typed: str, cents: int) -> None:
    assert Money.parse(typed) == Money(cents)


@pytest.mark.parametrize(
    "typed", ["", None, "1.000", "1.000 US$", "1.000,5", "12.345", "abc", "1,2345", "$", "1e3", "١٢"]
)
def test_what_is_no_amount_is_none(typed: str | None) -> None:
    assert Money.parse(typed) is None


def test_files_are_read_with_their_separators() -> None:
    assert Money.from_plain("-12.34") == Money(-1234)
    assert Money.from_plain("1.234,56", decimal_separator=",", thousands_separator=".") == Money(123456)
    for bad in ("12.345", "NaN", "Infinity", "1e20", "x", "1000000000000.00"):
        with pytest.raises(ValueError, match="is not an amount"):
            Money.from_plain(bad)


@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_plain_text_reads_back_as_the_same_money(cents: int) -> None:
    money = Money(cents)
    assert Money.from_plain(money.plain()) == money
    assert Money.parse(money.plain()) == money or abs(cents) >= 10**11  # typed amounts stop at 9 digits


def test_sums_and_differences_stay_money() -> None:
    assert sum([Money(150), Money(250)]) == Money(400)
    assert sum([], ZERO) == ZERO
    assert Money(500) - Money(125) == Money(375) and -Money(5) == Money(-5)
    assert not ZERO and Money(1) and Money(2) > Money(1)
    assert Money.of(None) == ZERO and Money.of(42) == Money(42) and Money.of(Money(3)) == Money(3)
    assert Money(-1234).dollars == Decimal("-12.34")


def test_people_read_money_in_their_language() -> None:
    assert format_money(Money(123450), "en") == "$1,234.50"
    assert format_money(8240, "es").replace("\xa0", " ") == "82,40 US$"
    with pytest.raises(TypeError, match="integer cents"):
        format_money(Decimal("82.40"), "en")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_money(82.4, "en")  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["en", "es"])
def test_form_values_and_shown_amounts_read_back_in_each_language(locale: str) -> None:
    for cents in (100, 8240, 500000, 123456789):
        assert Money.parse(typed_money(Money(cents), locale)) == Money(cents)
        assert Money.parse(format_money(Money(cents), locale)) == Money(cents)
    assert typed_money(Money(8240), "es") == "82,40" and typed_money(Money(8240), "en") == "82.40"
