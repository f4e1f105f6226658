"""Pages for everyone: help, and the health endpoints."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("main", __name__)

from app.main import views  # noqa: E402,F401
