"""ID-token validation against tokens a misbehaving provider signs with joserfc (OIDC Core 3.1.3.7)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import OKPKey, RSAKey
from sqlalchemy import func, select

from app.auth.models import Resident
from app.database.db import db
from tests.auth.provider import DROP, HostileProvider, new_key, running


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    with running(HostileProvider()) as p:
        yield p


@pytest.fixture
def portal(make_app: Callable[..., Flask], provider: HostileProvider) -> FlaskClient:
    return make_app(OIDC_ISSUER=provider.issuer).test_client()


def attempt_sign_in(client: FlaskClient, sub: str = "hostile-user") -> tuple[int, str]:
    """Run the redirect flow against the hostile provider; return the callback's status and body."""
    start = client.get("/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    at_provider = requests.get(start.headers["Location"] + f"&login_hint={sub}", allow_redirects=False, timeout=5)
    location = urlsplit(at_provider.headers["Location"])
    response = client.get(f"{location.path}?{location.query}")
    return response.status_code, response.get_data(as_text=True)


def assert_refused(client: FlaskClient) -> None:
    status, body = attempt_sign_in(client)
    assert status == 502, body
    assert "Try again" in body and "Traceback" not in body
    assert client.get("/account").status_code == 302


def test_good_token_signs_in(portal: FlaskClient, provider: HostileProvider) -> None:
    status, _ = attempt_sign_in(portal)
    assert status == 302
    assert portal.get("/account").status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"aud": ["citizen-portal", "untrusted-api"]}, id="extra-untrusted-aud"),
        pytest.param({"aud": ["citizen-portal", "other"], "azp": DROP}, id="several-aud-no-azp"),
        pytest.param({"azp": "another-client"}, id="wrong-azp"),
        pytest.param({"iss": "https://evil.example/realms/city"}, id="wrong-iss"),
        pytest.param({"nonce": "not-the-nonce"}, id="wrong-nonce"),
        pytest.param({"nonce": DROP}, id="missing-nonce"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": DROP}, id="missing-exp"),
        pytest.param({"iat": int(time.time()) - 7200, "exp": int(time.time()) + 300}, id="issued-long-ago"),
        pytest.param({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, id="issued-in-future"),
        pytest.param({"sub": DROP}, id="missing-sub"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-valid-yet"),
        pytest.param({"sid": "s" * 256}, id="sid-longer-than-column"),
    ],
)
def test_bad_claims_are_refused(portal: FlaskClient, provider: HostileProvider, claims: dict) -> None:
    provider.claims = claims
    assert_refused(portal)


def test_nbf_within_clock_skew_is_accepted(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.claims = {"nbf": int(time.time()) + 5}
    assert attempt_sign_in(portal)[0] == 302


def test_sub_and_sid_as_long_as_the_columns_are_kept(portal: FlaskClient, provider: HostileProvider) -> None:
    sub = "s" * 255
    provider.claims = {"sid": "k" * 255}
    status, body = attempt_sign_in(portal, sub)
    assert status == 302, body
    assert portal.get("/account").status_code == 200


def test_refused_long_sub_leaves_no_resident(portal: FlaskClient, provider: HostileProvider) -> None:
    status, body = attempt_sign_in(portal, "s" * 300)
    assert status == 502 and "Try again" in body
    with portal.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 0


def _half_hash_sha512(value: str) -> str:
    digest = hashlib.sha512(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:32]).rstrip(b"=").decode()


@pytest.fixture
def eddsa_portal(make_app: Callable[..., Flask], provider: HostileProvider) -> FlaskClient:
    """A portal whose provider signs with Ed25519 (``alg: EdDSA``), as Keycloak can."""
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})
    provider.signing_key, provider.published = key, [key]
    provider.header = {"alg": "EdDSA"}
    provider.metadata = {"id_token_signing_alg_values_supported": ["EdDSA"]}
    return make_app(OIDC_ISSUER=provider.issuer, OIDC_ID_TOKEN_ALGS="EdDSA").test_client()


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # joserfc prefers RFC 9864's "Ed25519"; Keycloak says EdDSA
def test_eddsa_at_hash_is_checked(eddsa_portal: FlaskClient, provider: HostileProvider) -> None:
    provider.claims = {"at_hash": _half_hash_sha512("at-hostile-user")}  # the access token the provider issues
    status, body = attempt_sign_in(eddsa_portal)
    assert status == 302, body
    assert eddsa_portal.get("/account").status_code == 200


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_eddsa_wrong_at_hash_is_refused(eddsa_portal: FlaskClient, provider: HostileProvider) -> None:
    provider.claims = {"at_hash": _half_hash_sha512("another-access-token")}
    assert_refused(eddsa_portal)


def test_at_hash_of_rs256_is_checked(portal: FlaskClient, provider: HostileProvider) -> None:
    digest = hashlib.sha256(b"at-hostile-user").digest()
    provider.claims = {"at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()}
    assert attempt_sign_in(portal)[0] == 302
    portal.post("/logout", data={"csrf_token": _csrf(portal)})
    provider.claims = {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}
    assert_refused(portal)


def test_other_audience_is_accepted_when_trusted(make_app: Callable[..., Flask], provider: HostileProvider) -> None:
    client = make_app(OIDC_ISSUER=provider.issuer, OIDC_TRUSTED_AUDIENCES="billing-api").test_client()
    provider.claims = {"aud": ["citizen-portal", "billing-api"]}
    assert attempt_sign_in(client)[0] == 302


def test_bad_signature_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    impostor = new_key(provider.signing_key.kid)  # same kid, different key
    provider.sign_with = impostor
    assert_refused(portal)


def test_alg_none_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.unsigned = True
    assert_refused(portal)


def test_hs256_signed_with_client_secret_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.header = {"alg": "HS256", "kid": DROP}
    assert_refused(portal)


def test_key_named_in_token_header_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    attacker = new_key("attacker")
    provider.sign_with = attacker
    provider.header = {"jwk": attacker.as_dict(private=False), "kid": "attacker"}
    assert_refused(portal)


def test_unknown_kid_refetches_once_then_refuses(portal: FlaskClient, provider: HostileProvider) -> None:
    assert attempt_sign_in(portal)[0] == 302  # caches the keys
    assert provider.jwks_fetches == 1
    portal.post("/logout", data={"csrf_token": _csrf(portal)})
    provider.sign_with = new_key("never-published")
    assert_refused(portal)
    assert provider.jwks_fetches == 2


def test_key_rotation_succeeds_after_one_refetch(portal: FlaskClient, provider: HostileProvider) -> None:
    assert attempt_sign_in(portal)[0] == 302
    portal.post("/logout", data={"csrf_token": _csrf(portal)})
    rotated = new_key("key-2")
    provider.published = [provider.signing_key, rotated]
    provider.signing_key = rotated
    assert attempt_sign_in(portal)[0] == 302
    assert provider.jwks_fetches == 2
    portal.post("/logout", data={"csrf_token": _csrf(portal)})
    assert attempt_sign_in(portal)[0] == 302
    assert provider.jwks_fetches == 2  # cached again


def test_algorithm_not_advertised_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.metadata = {"id_token_signing_alg_values_supported": ["ES256"]}
    assert_refused(portal)


def test_userinfo_sub_mismatch_is_refused(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.userinfo = {"sub": "somebody-else"}
    assert_refused(portal)


def test_discovery_with_other_issuer_is_refused_before_redirect(portal: FlaskClient, provider: HostileProvider) -> None:
    provider.metadata = {"issuer": "https://evil.example"}
    response = portal.get("/login")
    assert response.status_code == 502
    assert "Location" not in response.headers


def test_pkce_verifier_is_checked_by_the_provider(portal: FlaskClient, provider: HostileProvider) -> None:
    status, _ = attempt_sign_in(portal)
    assert status == 302
    request = provider.token_requests[-1]
    assert len(request["code_verifier"]) >= 43
    assert request["grant_type"] == "authorization_code"


def test_private_key_jwt_client_authentication(
    make_app: Callable[..., Flask], provider: HostileProvider, tmp_path: Path
) -> None:
    client_key = RSAKey.generate_key(2048)
    pem = client_key.as_pem(private=True)
    key_file = tmp_path / "client.pem"
    key_file.write_bytes(pem)
    provider.client_public_key = client_key.as_dict(private=False)
    app = make_app(
        OIDC_ISSUER=provider.issuer,
        OIDC_CLIENT_AUTH_METHOD="private_key_jwt",
        OIDC_PRIVATE_KEY_FILE=str(key_file),
        OIDC_CLIENT_SECRET=None,
    )
    client = app.test_client()
    assert attempt_sign_in(client)[0] == 302
    form = provider.token_requests[-1]
    assert "client_assertion" in form and "client_secret" not in form
    serialization.load_pem_private_key(pem, password=None)  # the file really is a PEM private key


def test_wrong_client_secret_ends_on_friendly_page(make_app: Callable[..., Flask], provider: HostileProvider) -> None:
    client = make_app(OIDC_ISSUER=provider.issuer, OIDC_CLIENT_SECRET="wrong").test_client()
    status, body = attempt_sign_in(client)
    assert status == 400
    assert "Try again" in body


def _csrf(client: FlaskClient) -> str:
    from tests.support.pages import csrf_token

    return csrf_token(client, "/account")
