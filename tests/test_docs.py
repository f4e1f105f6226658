"""The README and the pages under docs/: every relative link leads to a file or folder that exists (and to a
heading of that page when it names one), and every page has one H1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "idp_config" / "README.md"]

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[(?:[^\[\]]|`[^`]*`)*\]\(([^()\s]+)\)")


def _prose(text: str) -> str:
    """``text`` without its fenced blocks (code, diagrams)."""
    return FENCE.sub("", text)


def _headings(text: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^(#{1,6}) (.+)$", _prose(text), re.M)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(heading) for heading in _headings(page.read_text(encoding="utf-8"))}


def _links(text: str) -> list[str]:
    prose = _prose(text)
    # A link whose text is inline code keeps it; a bracket inside inline code is no link.
    spans = [m.span() for m in INLINE_CODE.finditer(prose)]
    found = []
    for m in LINK.finditer(prose):
        if any(start < m.start() < end for start, end in spans):
            continue
        found.append(m.group(1))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in _links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)} links to what does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_page_has_one_h1(page: Path) -> None:
    assert [h for h in re.findall(r"^(#+) ", _prose(page.read_text(encoding="utf-8")), re.M) if h == "#"] == ["#"]
