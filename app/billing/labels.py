"""Service names and bill-line descriptions in the page's language, from the import mapping's label table."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.models import BillingLabel


@dataclass(frozen=True)
class Labels:
    """One language's labels; any text without a label stays as the billing system wrote it."""

    by_key: dict[tuple[str, str], str] = field(default_factory=dict)

    def service(self, name: str) -> str:
        """The label of service ``name`` (e.g. ``WATER``), else the name itself."""
        return self.by_key.get((name, ""), name)

    def line(self, service: str, description: str) -> str:
        """The label of a bill line, else its description.

        A description the billing system writes with a usage after it (``Water usage (5,050 gal)``) takes the
        label of the text before the parenthesis and keeps the parenthesis.
        """
        found = self.by_key.get((service, description))
        if found is not None:
            return found
        head, sep, tail = description.partition(" (")
        if sep and tail.endswith(")") and (service, head) in self.by_key:
            return f"{self.by_key[(service, head)]}{sep}{tail}"
        return description


def labels_for(session: Session, language: str) -> Labels:
    """The labels for page language ``language`` (none for English, the billing system's own text)."""
    if language == "en":
        return Labels()
    rows = session.execute(
        select(BillingLabel.service, BillingLabel.description, BillingLabel.label).where(
            BillingLabel.language == language
        )
    )
    return Labels({(service, description): label for service, description, label in rows})
