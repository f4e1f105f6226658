"""A TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT the server carried out.

``pg_terminate_backend`` can end a backend before its COMMIT, never between the commit and its answer.
This proxy can: once armed, it forwards the next ``COMMIT`` a client sends, lets the server commit, and
then closes the client's connection instead of passing the answer on, as a network cut or a failover at that
instant would. Everything else is passed through unchanged.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class CommitCutter:
    """The proxy's state: armed or not, and how many answers it has cut."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.armed = False
        self.cut = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]

    def arm(self) -> None:
        """Cut the answer to the next COMMIT that any client sends."""
        with self._lock:
            self.armed = True

    def _take(self, chunk: bytes) -> bool:
        with self._lock:
            if self.armed and b"COMMIT\x00" in chunk.upper():
                self.armed = False
                return True
        return False

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            cut = threading.Event()
            threading.Thread(target=self._to_server, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._to_client, args=(server, client, cut), daemon=True).start()

    def _to_server(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        try:
            while chunk := client.recv(65536):
                if self._take(chunk):
                    cut.set()
                server.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(server)

    def _to_client(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        try:
            while chunk := server.recv(65536):
                if cut.is_set():  # the server's answer to the COMMIT: committed, never told
                    with self._lock:
                        self.cut += 1
                    break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)


def _close(sock: socket.socket) -> None:
    """Shut down (which wakes the other direction's blocked ``recv``), then close."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def commit_cutter(host: str = "127.0.0.1", port: int = 5432) -> Iterator[CommitCutter]:
    """Run a :class:`CommitCutter` in front of PostgreSQL at ``host``:``port`` for the block."""
    proxy = CommitCutter((host, port))
    thread = threading.Thread(target=proxy._serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy._listener.close()
