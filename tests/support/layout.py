"""A layout check for the Chromium tests: on a phone every amount and link in a table is on screen.

``assert_phone_fit(page)`` is run on every resident and staff page at 390 px (``tests/browser/test_phone.py``).
"""

from __future__ import annotations

from typing import Any

#: Measured in the page: elements wider than the window, and table cells with an amount or a link that lie
#: (even partly) outside it, scrolled away in a container included. Screen-reader-only text is left out.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const shown = (e) => !e.closest('.usa-sr-only') && e.getClientRects().length > 0;
  const wide = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (!shown(e)) continue;
    const box = e.getBoundingClientRect();
    if (box.width > width + 0.5) wide.push(`${name(e)} is ${Math.round(box.width)} px wide`);
  }
  const outside = [];
  for (const cell of document.querySelectorAll('table td, table th')) {
    if (!shown(cell)) continue;
    const text = cell.innerText.trim();
    if (!/\\$\\s*\\d|\\d\\s*US\\$/.test(text) && !cell.querySelector('a')) continue;
    const box = cell.getBoundingClientRect();
    if (box.left < -0.5 || box.right > width + 0.5)
      outside.push(`"${text.slice(0, 40)}" at ${Math.round(box.left)}-${Math.round(box.right)} px`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, wide, outside};
}"""


def assert_phone_fit(page: Any) -> None:
    """No element is wider than the window and every table cell with an amount or a link is inside it."""
    found = page.evaluate(MEASURE)
    problems = [*found["wide"], *(f"table cell {cell} is outside the window" for cell in found["outside"])]
    if found["scrollWidth"] > found["width"]:
        problems.insert(0, f"the page is {found['scrollWidth']} px wide")
    assert not problems, f"{page.url} in a {found['width']} px window:\n" + "\n".join(problems)
