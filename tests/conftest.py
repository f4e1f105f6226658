"""The suite's shared fixtures and helpers live in ``tests/support/``; this registers them for every test.

Import helpers from their module there (``from tests.support.signin import sign_in``), never from a conftest.
"""

pytest_plugins = [
    "tests.support.databases",
    "tests.support.apps",
    "tests.support.signin",
    "tests.support.demo",
    "tests.support.payments",
    "tests.support.workers",
]
