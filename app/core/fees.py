"""Convenience fees: parsed from a setting, computed in integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Fee:
    """A convenience fee: ``none``, ``flat:150`` (cents) or ``percent:2.5`` (of the amount)."""

    kind: str = "none"
    value: Decimal = Decimal(0)

    @classmethod
    def parse(cls, spec: str | None) -> Fee:
        """Parse a fee setting; raises ValueError for anything else."""
        text = (spec or "none").strip().lower()
        if text == "none":
            return cls()
        kind, _, raw = text.partition(":")
        if kind not in ("flat", "percent"):
            raise ValueError(f"unknown fee {spec!r}")
        value = Decimal(raw)
        if value < 0 or (kind == "percent" and value > 10) or (kind == "flat" and value != value.to_integral()):
            raise ValueError(f"bad fee {spec!r}")
        return cls(kind, value)

    def cents(self, amount_cents: int) -> int:
        """The fee on ``amount_cents``, rounded half up to a cent."""
        if self.kind == "flat":
            return int(self.value)
        if self.kind == "percent":
            return int((Decimal(amount_cents) * self.value / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return 0
