from tests.billing.fixtures import billing, db_session, demo_data  # noqa: F401
