"""English and Spanish: the browser's choice, the visitor's own choice, and a catalogue kept complete."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import gettext

from app.core.config import ConfigError
from tests.support.config import base_config

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "app" / "translations" / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def spanish(app: Flask, text: str) -> str:
    with app.test_request_context(headers={"Accept-Language": "es"}):
        app.preprocess_request()
        return gettext(text)


def test_browser_language_picks_spanish(app: Flask, client: FlaskClient) -> None:
    html = client.get("/sign-in", headers={"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="es">' in html
    translated = spanish(app, "Skip to main content")
    assert translated != "Skip to main content" and translated in html
    english = client.get("/sign-in", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Skip to main content" in english


def test_switcher_remembers_the_choice_and_goes_back(app: Flask, client: FlaskClient) -> None:
    html = client.get("/help", headers={"Accept-Language": "en"}).get_data(as_text=True)
    switch = '<a class="usa-nav-link" href="/language/es?next=/help" lang="es" hreflang="es"><span>Español</span></a>'
    assert switch in html
    response = client.get("/language/es?next=/help")
    assert response.status_code == 302 and response.headers["Location"] == "/help"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("portal_lang=es;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    spanish_help = client.get("/help", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es">' in spanish_help and 'hreflang="en"><span>English</span>' in spanish_help
    client.get("/language/en?next=/help")
    assert '<html lang="en">' in client.get("/help").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_switcher_never_redirects_away(client: FlaskClient, target: str) -> None:
    response = client.get("/language/es", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_unknown_language_is_404(client: FlaskClient) -> None:
    assert client.get("/language/fr").status_code == 404


def test_english_only_portal_offers_no_switch(make_app: Callable[..., Flask]) -> None:
    app = make_app(BABEL_SUPPORTED_LOCALES="en")
    html = app.test_client().get("/help", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Español" not in html


def test_a_language_without_translations_is_refused() -> None:
    from app import create_app

    with pytest.raises(ConfigError, match="none for fr"):
        create_app(base_config("sqlite://", "http://localhost:1", BABEL_SUPPORTED_LOCALES="en,fr"))


def test_every_string_in_the_code_has_a_spanish_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [Path(sys.executable).parent / "pybabel", "extract", "-F", "app/babel.cfg", "-k", "_l"]
        + ["-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    missing, broken = [], []
    for msgid in wanted:
        message = catalogue.get(msgid)
        strings = message.string if message is not None else None
        forms = list(strings) if isinstance(strings, (list, tuple)) else [strings]
        if message is None or not all(forms) or message.fuzzy:
            missing.append(msgid)
            continue
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        for form in forms:
            if sorted(PLACEHOLDER.findall(str(form))) != sorted(PLACEHOLDER.findall(str(ids[-1]))):
                broken.append(msgid)
    assert missing == [], f"untranslated: {missing[:5]} (run pybabel update, translate, pybabel compile)"
    assert broken == [], f"placeholders differ: {broken[:5]}"
    with (CATALOGUE / "messages.mo").open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == {m.id: m.string for m in catalogue if m.id}, "messages.mo is stale: run pybabel compile"


def test_fixed_strings_are_compiled_into_each_languages_templates(app: Flask) -> None:
    """A request's templates come from its language's overlay, with ``_("literal")`` already translated."""
    source, _, _ = app.jinja_env.loader.get_source(app.jinja_env, "_frame.html")  # type: ignore[union-attr]
    assert '_("Skip to main content")' in source
    with app.test_request_context(headers={"Accept-Language": "es"}):
        app.preprocess_request()
        template = app.jinja_env.get_template("_frame.html")
        assert template.environment is not app.jinja_env
        code = template.environment.compile(source, "_frame.html", raw=True)
    assert "Saltar al contenido principal" in code and "Skip to main content" not in code
    with app.test_request_context(headers={"Accept-Language": "en"}):
        app.preprocess_request()
        english = app.jinja_env.get_template("base.html").environment
    assert english is not template.environment
    assert app.jinja_env.get_template("base.html").environment is app.jinja_env  # outside a request


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ _("Skip to main content") }}', "Saltar al contenido principal"),
        ('{{ _("Skip to main content")|upper }}', "SALTAR AL CONTENIDO PRINCIPAL"),
        ('{{ _("50%% off") }}', "50% off"),  # formatted as the run-time ``_`` formats it
        ('{{ _("Hello, %(name)s.", name="<Ana>") }}', "Hola, &lt;Ana&gt;."),  # variables: still a call
        ('{% set s = {"_": _} %}{{ s._("Skip to main content") }}', "Saltar al contenido principal"),
        ('{{ _("<b>x</b>") }}', "<b>x</b>"),  # marked safe, as the run-time ``_`` marks it
    ],
)
def test_folded_strings_render_as_the_call_would(app: Flask, source: str, expected: str) -> None:
    with app.test_request_context(headers={"Accept-Language": "es"}):
        app.preprocess_request()
        overlay = app.jinja_env.get_template("base.html").environment
        folded = overlay.from_string(source).render()
        called = app.jinja_env.from_string(source).render()
    assert folded == called == expected


def test_times_carry_the_city_zone_so_the_repeated_fall_back_hour_reads_apart(app: Flask) -> None:
    from datetime import UTC, datetime

    first, second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        shown = render_template_string(
            "{{ a|datetimeformat('short') }} / {{ b|datetimeformat('short') }}", a=first, b=second
        )
    assert shown == "11/1/26, 1:30\u202fAM CDT / 11/1/26, 1:30\u202fAM CST"  # Babel spaces AM with U+202F
