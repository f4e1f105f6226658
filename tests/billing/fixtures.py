"""The billing and accounts tests' constants and fixtures, which now live in ``tests/support/`` (kept importable)."""

from tests.support.apps import count_queries
from tests.support.demo import DEMO_ACCOUNTS, TODAY, billing, db_session, demo_data

__all__ = ["DEMO_ACCOUNTS", "TODAY", "billing", "count_queries", "db_session", "demo_data"]
