"""The SQLAlchemy extension and the declarative base, created once and bound to each app in ``create_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.database.commits import CheckedCommitSession


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


#: The one expiry rule: a commit leaves the session's objects as they were loaded (``expire_on_commit=False``),
#: so a view reads what it just wrote without another query, and nothing after a commit can fail its answer
#: on a lost connection. A view that needs the database's later state selects it again.
db = SQLAlchemy(model_class=Base, session_options={"class_": CheckedCommitSession, "expire_on_commit": False})
migrate = Migrate()
