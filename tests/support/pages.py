"""Reading rendered pages: the CSRF token of a form, and a parsed page to ask about its status, heading and parts.

``html_page(response)`` parses with a real HTML parser (BeautifulSoup), so tests compare what a reader sees
(``page.text``, ``page.h1``) and find elements by CSS selector, rather than search the escaped markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form on a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str) -> str:
    """GET ``path`` and read the CSRF token from the page it renders."""
    return csrf_token_from(client.get(path).get_data(as_text=True))


def _squash(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Page:
    """A rendered page, parsed."""

    status: int
    html: str
    soup: BeautifulSoup = field(repr=False)

    @property
    def h1(self) -> str:
        """The text of the page's one ``<h1>`` (a page with none or several fails)."""
        headings = self.soup.find_all("h1")
        assert len(headings) == 1, f"{len(headings)} <h1> on the page: {[_squash(h.get_text()) for h in headings]}"
        return _squash(headings[0].get_text(" "))

    @property
    def title(self) -> str:
        """The text of ``<title>``."""
        assert self.soup.title is not None, "no <title>"
        return _squash(self.soup.title.get_text())

    @property
    def text(self) -> str:
        """What a reader sees of the body: its text with entities decoded and whitespace squashed."""
        body = self.soup.body or self.soup
        return _squash(body.get_text(" "))

    def select(self, css: str) -> list[Tag]:
        """Every element matching the CSS selector."""
        return list(self.soup.select(css))

    def select_one(self, css: str) -> Tag:
        """The first element matching the CSS selector (a page without one fails)."""
        found = self.soup.select_one(css)
        assert found is not None, f"nothing matches {css!r}"
        return found

    def text_of(self, css: str) -> str:
        """The squashed text of the first element matching ``css``."""
        return _squash(self.select_one(css).get_text(" "))


def html_page(response: TestResponse) -> Page:
    """Parse a test client's response."""
    html = response.get_data(as_text=True)
    return Page(response.status_code, html, BeautifulSoup(html, "html.parser"))
