"""Serve a WSGI app on a free localhost port in a thread, for test servers of our own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

#: How often a serving thread checks whether it was asked to stop: ``shutdown()`` waits up to this long
#: (``serve_forever``'s default of 0.5 s, paid at every test server's stop, added up to most of a minute a run).
POLL_SECONDS = 0.05


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[str]:
    """Serve ``app`` for the duration of the block; yields its base URL (``http://localhost:PORT``).

    ``port`` 0 picks a free one; a fixed port lets a test stop a server and start it again at the same URL.
    """
    server = make_server("localhost", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()  # frees the port now, for a test that serves on it again
