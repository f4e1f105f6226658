"""Static files: the USWDS build holds what the templates use, and is served fingerprinted, compressed, cached."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.web.static_files import COMPRESSIBLE, IMMUTABLE, STATIC, content_hash, static_files
from tests.support.apps import count_queries
from tests.support.threads import serve

ROOT = Path(__file__).resolve().parents[1]
USWDS_CSS = STATIC / "uswds" / "css" / "uswds.min.css"
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
#: USWDS names anywhere in templates or Python (macros build class names in strings); not image folders.
USWDS_NAME = re.compile(r"(?<![\w-])(usa-[a-z0-9]+(?:(?:--?|__)[a-z0-9]+)*)(?![\w/-])")
#: Folders of icons, and markup hooks from USWDS's own examples that no USWDS build styles.
NOT_STYLED = {"usa-icons", "usa-icons-bg", "usa-nav-link", "usa-summary-box__body"}


def defined_classes() -> set[str]:
    """Every class selector in the built USWDS CSS and the portal's own stylesheet."""
    css = USWDS_CSS.read_text() + (STATIC / "css" / "portal.css").read_text()
    return {name.replace("\\", "") for name in re.findall(r"\.((?:[\w-]|\\:)+)", css)}


def template_class_names() -> dict[str, set[str]]:
    """Class names the templates (and the Python that builds markup) use, each with the files using it."""
    used: dict[str, set[str]] = {}
    sources = [*sorted((ROOT / "templates").rglob("*.html")), *sorted((ROOT / "app").rglob("*.py"))]
    for path in sources:
        text = path.read_text()
        names: set[str] = set(USWDS_NAME.findall(text))
        if path.suffix == ".html":
            for attribute in CLASS_ATTRIBUTE.findall(text):
                names.update(
                    name
                    for name in JINJA.sub(" ", attribute).split()
                    if re.fullmatch(r"[a-z][\w:-]*[a-z0-9]", name) and not name.startswith("portal-")
                )
        for name in names - NOT_STYLED:
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return used


def test_every_class_a_template_uses_is_in_the_build() -> None:
    used = template_class_names()
    assert {"usa-header", "usa-table", "grid-row", "tablet:grid-col-6", "margin-top-4"} <= used.keys()
    missing = {name: sorted(files) for name, files in used.items() if name not in defined_classes()}
    assert missing == {}, "add the package or utility to assets/src and run assets/build"


def test_the_build_leaves_out_what_the_portal_does_not_use() -> None:
    classes = defined_classes()
    assert {"usa-modal", "usa-date-picker", "usa-combo-box", "usa-banner", "usa-sidenav"}.isdisjoint(classes)
    assert USWDS_CSS.stat().st_size < 250_000
    assert not list(STATIC.rglob("*.ttf")) and not list(STATIC.rglob("*.woff"))


def test_every_file_the_css_refers_to_is_there_named_by_its_content() -> None:
    css = USWDS_CSS.read_text()
    names = [name.strip("\"'") for name in re.findall(r"url\(([^)]+)\)", css)]
    referenced = {(USWDS_CSS.parent / name).resolve() for name in names if name and not name.startswith("data:")}
    assert referenced, "the USWDS build refers to no fonts or images"
    for path in referenced:
        assert path.is_file(), path
        assert f".{content_hash(path)}." in path.name, f"{path.name} is not named by its content"
    shipped = {path.resolve() for kind in ("fonts", "img") for path in static_files(STATIC / "uswds" / kind)}
    linked = {(STATIC / "uswds" / "img" / "usa-icons" / "close.svg").resolve()}
    assert shipped == referenced | linked, "a font or image nobody uses is shipped"


def test_compressed_variants_match_their_files() -> None:
    stale = []
    for path in static_files():
        if path.suffix not in COMPRESSIBLE:
            continue
        data = path.read_bytes()
        variants = {".gz": gzip.decompress, ".br": brotli.decompress}
        for suffix, decompress in variants.items():
            variant = path.with_name(path.name + suffix)
            if variant.exists() and decompress(variant.read_bytes()) != data:
                stale.append(variant.name)
            if not variant.exists() and len(data) > 1024:
                stale.append(f"{variant.name} (missing)")
    assert stale == [], "run: .venv/bin/python -m app.web.static_files compress"


def test_build_version_matches_the_lockfile() -> None:
    lock = json.loads((ROOT / "assets" / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/@uswds/uswds"]["version"]
    assert USWDS_CSS.read_text().startswith(f"/*! USWDS {version}: ")


def test_the_committed_build_is_what_the_source_builds(tmp_path: Path) -> None:
    """Rebuilds with the pinned packages (``make assets-deps`` installs them; ``make test`` runs it).

    In CI a missing Node or install fails the test; elsewhere it is skipped with the reason.
    """
    node_modules = ROOT / "assets" / "node_modules" / "@uswds" / "uswds"
    if shutil.which("node") is None or not node_modules.is_dir():
        message = "needs Node 20 and assets/node_modules: run make assets-deps (npm ci in assets/)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "uswds"
    build = subprocess.run(
        ["node", "build.mjs"],
        cwd=ROOT / "assets",
        env={**os.environ, "USWDS_OUT": str(out)},
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    committed = STATIC / "uswds"
    built = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    shipped = {
        p.relative_to(committed).as_posix(): p.read_bytes()
        for p in committed.rglob("*")
        if p.is_file() and p.suffix not in {".gz", ".br"}
    }
    assert sorted(built) == sorted(shipped)
    assert [name for name in built if built[name] != shipped[name]] == [], "run assets/build"


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


def linked_static(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_fingerprinted_files(client: FlaskClient) -> None:
    html = client.get("/sign-in").get_data(as_text=True)
    css = STATIC / "uswds" / "css" / "uswds.min.css"
    assert f'href="/static/uswds/css/uswds.min.{content_hash(css)}.css"' in html
    links = linked_static(html)
    assert len(links) >= 5 and all(re.search(r"\.[0-9a-f]{12}\.\w+$", url) for url in links), links


def test_fingerprinted_file_is_cached_for_a_year_and_served_compressed(client: FlaskClient, live: str) -> None:
    url = next(u for u in linked_static(client.get("/sign-in").get_data(as_text=True)) if "uswds.min." in u)
    plain = USWDS_CSS.read_bytes()
    for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        with httpx.stream("GET", live + url, headers={"Accept-Encoding": encoding}) as response:
            body = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["Content-Encoding"] == encoding
        assert response.headers["Content-Type"].startswith("text/css")
        assert response.headers["Vary"] == "Accept-Encoding"
        assert len(body) < len(plain) / 5 and decompress(body) == plain
    identity = httpx.get(live + url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in identity.headers and identity.content == plain


def test_unfingerprinted_url_still_answers_with_a_short_cache(live: str) -> None:
    response = httpx.get(f"{live}/static/uswds/css/uswds.min.css")
    assert response.status_code == 200 and response.content == USWDS_CSS.read_bytes()
    assert response.headers["Cache-Control"] == "max-age=60, public"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_older_fingerprint_gets_the_current_file_briefly_and_unknown_files_404(live: str) -> None:
    response = httpx.get(f"{live}/static/uswds/css/uswds.min.000000000000.css")
    assert response.status_code == 200 and response.content == USWDS_CSS.read_bytes()
    assert response.headers["Cache-Control"] == "max-age=60, public"
    assert httpx.get(f"{live}/static/nothing-here.000000000000.css").status_code == 404
    assert httpx.get(f"{live}/static/nothing-here.css").status_code == 404


def test_favicon(client: FlaskClient, live: str) -> None:
    response = httpx.get(f"{live}/favicon.ico")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"
    html = client.get("/sign-in").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert icon is not None
    svg = httpx.get(live + icon.group(1))
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "water, sewer and trash accounts online"), ("es", "cuentas de agua, alcantarillado y basura")],
)
def test_every_page_has_a_meta_description(client: FlaskClient, language: str, text: str) -> None:
    for path in ("/sign-in", "/help", "/no-such-page"):
        html = client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
        description = re.search(r'<meta name="description" content="([^"]+)">', html)
        assert description is not None and text in description.group(1), path


def test_static_files_need_no_session_or_database(app: Flask, client: FlaskClient) -> None:
    with count_queries(app) as queries, client.get("/static/css/portal.css") as response:
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert queries() == 0
