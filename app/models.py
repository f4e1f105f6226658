"""Import every feature's models, so that migrations and ``create_all`` see the whole schema."""

from app.auth import models as auth_models  # noqa: F401
