"""The provider's published facts: its discovery document and signing keys, fetched over HTTP and cached.

A cache only: every instance can refetch them. Fetches that anyone on the internet can cause are bounded:
``/readyz`` asks discovery at most once per ``refetch_interval``, and a token naming a key we do not know
refetches the JWKS at most once per interval (so random ``kid`` values cannot make us hammer the provider).
``/login`` probes discovery before sending a resident away (simultaneous sign-ins share one probe), so that
a provider that just went down ends on our own 503 page rather than a browser error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from app.auth.errors import OidcError, ProviderMisconfigured, ProviderUnavailable
from app.auth.settings import OidcSettings

log = logging.getLogger(__name__)

USER_AGENT = "citizen-self-service-portal"
#: Seconds the ``/login`` probe of discovery may take: a resident is waiting for the redirect.
PROBE_TIMEOUT = 2.0


class Provider:
    """Discovery and keys of one OpenID provider (OpenID Connect Discovery 1.0), with explicit timeouts."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        #: When the JWKS was last refetched for an unknown ``kid``.
        self._keys_refetched_at: float | None = None
        #: When ``/readyz`` last asked discovery itself.
        self._ready_checked_at: float | None = None
        #: Why the last call failed (unavailable, or an answer we must not trust); None after a good discovery.
        self._failure: OidcError | None = None
        self._probe_lock = threading.Lock()
        #: When the last ``/login`` probe began, and how it failed (None: it answered).
        self._last_probe: tuple[float, OidcError | None] | None = None

    # --- HTTP ----------------------------------------------------------------------------------------

    def unavailable(self, reason: str) -> ProviderUnavailable:
        """Remember that the provider is down and build the exception to raise."""
        error = ProviderUnavailable(reason)
        self._failure = error
        return error

    def get_json(self, url: str, what: str, *, timeout: float | None = None) -> dict[str, Any]:
        """GET a JSON object from the provider; any failure is ProviderUnavailable or ProviderMisconfigured."""
        try:
            response = requests.get(
                url,
                timeout=self.settings.timeout if timeout is None else timeout,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self.unavailable(f"{what} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise self.unavailable(f"{what} answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise ProviderMisconfigured(f"{what} answered HTTP {response.status_code}")
        try:
            value = response.json()
        except ValueError:
            raise self.unavailable(f"{what} did not answer JSON") from None
        if not isinstance(value, dict):
            raise ProviderMisconfigured(f"{what} is not a JSON object")
        return value

    # --- discovery -----------------------------------------------------------------------------------

    def metadata(self, *, force: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """The provider's discovery document, cached; refused unless its issuer is exactly ours."""
        now = self._clock()
        cached = self._metadata
        if not force and cached is not None and now - self._metadata_at < self.settings.metadata_ttl:
            return cached
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = self.get_json(url, "discovery", timeout=timeout)
            if document.get("issuer") != self.settings.issuer:
                raise ProviderMisconfigured(
                    f"discovery issuer {document.get('issuer')!r} is not the configured {self.settings.issuer!r}"
                )
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise ProviderMisconfigured(f"discovery document lacks {name}")
        except OidcError as exc:
            self._failure = exc
            raise
        with self._lock:
            self._metadata, self._metadata_at = document, now
            self._failure = None
        return document

    def probe(self) -> dict[str, Any]:
        """Fetch discovery afresh with a short timeout: is the provider there before a resident is sent to it?

        Simultaneous sign-ins share one probe: a request that waited for another's probe uses its answer when
        that probe began after the request arrived (so it is as fresh as its own would be).
        """
        asked = self._clock()
        with self._probe_lock:
            last = self._last_probe
            if last is not None and last[0] >= asked:
                if last[1] is not None:
                    raise type(last[1])(last[1].reason)
                if self._metadata is not None:
                    return self._metadata
            started = self._clock()
            try:
                document = self.metadata(force=True, timeout=min(self.settings.timeout, PROBE_TIMEOUT))
            except OidcError as exc:
                self._last_probe = (started, exc)
                raise
            self._last_probe = (started, None)
            return document

    def check_ready(self) -> None:
        """Raise the reason the provider is not usable; asks discovery at most once per ``refetch_interval``.

        Between two of its own fetches the check answers from the last call anyone made (a sign-in that
        succeeded since counts), so that a flood of probes never becomes a flood of provider calls.
        """
        now = self._clock()
        with self._lock:
            last = self._ready_checked_at
            recent = last is not None and now - last < self.settings.refetch_interval
            if not recent:
                self._ready_checked_at = now
        if not recent:
            self.metadata(force=True)
            return
        failure = self._failure
        if failure is not None:
            raise type(failure)(f"{failure.reason} (last check)")
        if self._metadata is None:
            raise ProviderUnavailable("discovery not fetched yet")

    def allowed_algorithms(self) -> list[str]:
        """Algorithms both advertised by the provider and expected by the portal (never ``none``)."""
        advertised = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in self.settings.algorithms if alg in advertised and alg != "none"]

    # --- keys ----------------------------------------------------------------------------------------

    def _fetch_keys(self) -> KeySet:
        document = self.get_json(self.metadata()["jwks_uri"], "JWKS")
        usable = [
            key
            for key in document.get("keys", [])
            if isinstance(key, dict) and key.get("use", "sig") == "sig" and key.get("kty") in ("RSA", "EC", "OKP")
        ]
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise ProviderMisconfigured(f"JWKS could not be read: {exc}") from None
        with self._lock:
            self._keys = key_set
        return key_set

    def keys(self) -> KeySet:
        """The provider's signing keys (JWKS), fetched once and kept until a token names a key we lack."""
        return self._keys if self._keys is not None else self._fetch_keys()

    def key_for(self, kid: Any, alg: str) -> Key | None:
        """The published key a token header names, refetching the JWKS at most once per interval if unknown.

        Key rotation at the provider is then picked up by the first token signed with the new key, while
        tokens with made-up ``kid`` values cause at most one fetch per ``refetch_interval`` in all.
        """
        key = _pick(self.keys(), kid, alg)
        if key is not None:
            return key
        now = self._clock()
        with self._lock:
            last = self._keys_refetched_at
            if last is not None and now - last < self.settings.refetch_interval:
                log.info("unknown kid %r: JWKS refetched %.0f s ago, not again yet", kid, now - last)
                return None
            self._keys_refetched_at = now
        return _pick(self._fetch_keys(), kid, alg)


def _pick(key_set: KeySet, kid: Any, alg: str) -> Key | None:
    """The one key for ``kid`` (or the only key, without a kid) whose ``alg``, if set, is ``alg``."""
    candidates = [k for k in key_set if kid is None or k.kid == kid]
    if kid is None and len(candidates) != 1:
        return None
    for key in candidates:
        if key.get("alg") in (None, alg):
            return key
    return None
