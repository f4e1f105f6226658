"""Static files: fingerprinted URLs, served by WhiteNoise compressed and cached for a year.

``url_for("static", filename="css/portal.css")`` gives ``/static/css/portal.<hash>.css``, the hash being
the first 12 hex digits of the file's SHA-256, computed when the app starts. Fingerprinted URLs are
``Cache-Control: public, max-age=31536000, immutable``; the plain URL of the same file still answers with a
short cache (old pages, bookmarks), and so does a fingerprint of an older version. Files whose own name
already carries their content hash (the fonts and images the USWDS build writes) are immutable as they are.
WhiteNoise serves the ``.br`` or ``.gz`` variant next to a file when the client accepts it;
``python -m app.web.static_files compress`` writes them (``assets/build`` runs it) and tests/test_assets.py fails
while one is missing or stale.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from whitenoise import WhiteNoise

STATIC = Path(__file__).resolve().parents[1] / "static"
#: What a fingerprinted URL may be asked to keep for: a year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Unfingerprinted URLs: browsers revalidate them after a minute.
SHORT_MAX_AGE = 60
#: Text formats worth compressing; fonts (woff2) and images are compressed already.
COMPRESSIBLE = {".css", ".js", ".svg", ".ico", ".json", ".txt", ".map"}
_HASH = re.compile(r"\.([0-9a-f]{12})(?=\.[^./]+$)")


def content_hash(path: Path) -> str:
    """First 12 hex digits of the SHA-256 of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def fingerprinted(name: str, digest: str) -> str:
    """``css/portal.css`` and a digest -> ``css/portal.<digest>.css``."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{name}.{digest}"


def static_files(root: Path = STATIC) -> Iterator[Path]:
    """Every file under ``root`` that is served, leaving out compressed variants and documentation."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in {".gz", ".br", ".md"}:
            yield path


def build_manifest(root: Path = STATIC) -> dict[str, str]:
    """Map each static file's name (relative, with ``/``) to the name it is linked by."""
    manifest = {}
    for path in static_files(root):
        name = path.relative_to(root).as_posix()
        digest = content_hash(path)
        found = _HASH.search(path.name)
        manifest[name] = name if found and found.group(1) == digest else fingerprinted(name, digest)
    return manifest


class _StaticServer(WhiteNoise):
    """WhiteNoise that answers a fingerprint it does not know with the file's current content, briefly cached.

    A page rendered before a deploy (the home page may come from the shared cache) still gets its styles.
    """

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path not in self.files:
            plain = _HASH.sub("", path, count=1)
            if plain != path and plain in self.files:
                environ = {**environ, "PATH_INFO": plain}
        return super().__call__(environ, start_response)


def init_static(app: Flask) -> None:
    """Serve ``/static/`` and ``/favicon.ico`` through WhiteNoise and make ``url_for`` link fingerprints."""
    root = Path(app.static_folder or STATIC)
    prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    manifest = build_manifest(root)
    immutable = {prefix + linked for linked in manifest.values()}

    def add_headers(headers: Any, path: str, url: str) -> None:
        if url in immutable:
            headers["Cache-Control"] = IMMUTABLE
        headers["X-Content-Type-Options"] = "nosniff"

    server = _StaticServer(
        app.wsgi_app, max_age=SHORT_MAX_AGE, allow_all_origins=False, add_headers_function=add_headers
    )
    for name, linked in manifest.items():
        path = str(root / name)
        server.add_file_to_dictionary(prefix + name, path)
        server.add_file_to_dictionary(prefix + linked, path)
    if (root / "favicon.ico").is_file():
        server.add_file_to_dictionary("/favicon.ico", str(root / "favicon.ico"))
    app.wsgi_app = server  # type: ignore[method-assign]

    @app.url_defaults
    def static_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])


def compress(root: Path = STATIC) -> list[Path]:
    """Write the ``.gz`` and ``.br`` variants of every compressible file (when they save 5 % or more)."""
    from whitenoise.compress import Compressor

    compressor = Compressor(quiet=True)
    written = []
    for path in static_files(root):
        for stale in (path.with_name(path.name + ".gz"), path.with_name(path.name + ".br")):
            stale.unlink(missing_ok=True)
        if path.suffix in COMPRESSIBLE:
            written += [Path(name) for name in compressor.compress(str(path))]
    return written


if __name__ == "__main__":
    if sys.argv[1:] != ["compress"]:
        sys.exit("usage: python -m app.web.static_files compress")
    for written in compress():
        print(written.relative_to(STATIC.parent.parent))
