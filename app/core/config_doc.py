"""The settings table of ``docs/configuration.md``, generated from the declarations in :mod:`app.core.config`.

``python -m app.core.config_doc`` rewrites the table in ``docs/configuration.md``; a test fails while the two differ.
"""

from __future__ import annotations

import sys

from app.core.config import DECLARED, ROOT, Declared

CONFIG_DOC = ROOT / "docs" / "configuration.md"
TABLE_START = (
    "<!-- settings table: generated from app/core/config.py by `python -m app.core.config_doc`; do not edit -->"
)
TABLE_END = "<!-- end of settings table -->"


def _shown_default(d: Declared) -> str:
    if d.spec.shown is not None:
        return d.spec.shown
    value = d.default
    if value is None:
        return "unset"
    if value in ("", ()):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    """The table of every setting: variable, default, example or meaning."""
    rows = ["| Variable | Default | Example / meaning |", "|---|---|---|"]
    rows += [f"| `{d.name}` | {_shown_default(d)} |" + (f" {d.spec.doc} |" if d.spec.doc else " |") for d in DECLARED]
    return "\n".join(rows)


def doc_with_table(doc: str) -> str:
    """``doc`` with the text between the table markers replaced by :func:`settings_table`."""
    head, start, rest = doc.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"{CONFIG_DOC.relative_to(ROOT)} has no settings table markers")
    return f"{head}{TABLE_START}\n{settings_table()}\n{TABLE_END}{tail}"


if __name__ == "__main__":
    text = CONFIG_DOC.read_text(encoding="utf-8")
    updated = doc_with_table(text)
    if updated != text:
        CONFIG_DOC.write_text(updated, encoding="utf-8")
    state = "updated" if updated != text else "already up to date"
    sys.stdout.write(f"{CONFIG_DOC.relative_to(ROOT)} settings table {state}\n")
