"""gunicorn settings for the lost-connection tests: the repo's ``gunicorn.conf.py`` plus a worker hook.

The hook lets a request ask for its own database connection to be terminated (tests/support/terminations.py).
"""

from pathlib import Path

_shipped = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
exec(compile(_shipped.read_text(), str(_shipped), "exec"))


def post_worker_init(worker):  # noqa: ANN001, ANN201  (gunicorn's hook signature)
    from tests.support.terminations import install

    install(worker.wsgi)
