"""External sign-in: RS256 tokens checked against a JWKS served from a local endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from deepverify.service.core.models import utcnow
from deepverify.service.main import create_app

AUDIENCE = "deepverify-test-api"


class _IdP:
    """A minimal OIDC issuer on loopback: discovery document and JWKS, one RSA key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        self.jwks = {"keys": [jwk]}
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                routes = {
                    "/.well-known/openid-configuration": {
                        "issuer": idp.issuer,
                        "jwks_uri": f"{idp.issuer}/jwks.json",
                        "authorization_endpoint": f"{idp.issuer}/authorize",
                    },
                    "/jwks.json": idp.jwks,
                }
                body = routes.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body or {}).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key=None, headers=None, algorithm="RS256", **changes) -> str:
        now = utcnow()
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "idp|alice",
            "email": "alice@idp.example",
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(minutes=5),
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims,
            key or self.key,
            algorithm=algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


@pytest.fixture(scope="module")
def idp() -> Iterator[_IdP]:
    provider = _IdP()
    yield provider
    provider.server.shutdown()


@pytest.fixture
def oidc_client(make_settings, fake_analyzer, idp) -> Iterator[TestClient]:
    settings = make_settings(
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_client_id="spa-client",
        oidc_provider_name="Test IdP",
    )
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        yield client


def _me(client: TestClient, token: str):
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_valid_token_maps_to_one_local_user(oidc_client, idp):
    first = _me(oidc_client, idp.token())
    assert first.status_code == 200, first.text
    assert first.json()["provider"] == idp.issuer
    assert first.json()["email"] == "alice@idp.example"
    again = _me(oidc_client, idp.token())
    assert again.json()["id"] == first.json()["id"]
    other = _me(oidc_client, idp.token(sub="idp|bob", email="bob@idp.example"))
    assert other.status_code == 200 and other.json()["id"] != first.json()["id"]


def test_external_user_is_not_merged_with_a_local_account(oidc_client, idp):
    body = {"email": "alice@idp.example", "password": "local harbour lantern"}
    local = oidc_client.post("/api/auth/register", json=body).json()
    assert _me(oidc_client, idp.token()).json()["id"] != local["id"]


def test_two_subjects_with_one_e_mail_are_two_working_users(oidc_client, idp):
    # Anyone controlling an unverified address at the provider must not lock its owner out.
    owner = _me(oidc_client, idp.token(sub="idp|owner", email="shared@idp.example"))
    squatter = _me(oidc_client, idp.token(sub="idp|squatter", email="shared@idp.example"))
    assert owner.status_code == squatter.status_code == 200, (owner.text, squatter.text)
    assert owner.json()["id"] != squatter.json()["id"]
    again = _me(oidc_client, idp.token(sub="idp|owner", email="shared@idp.example"))
    assert again.status_code == 200 and again.json()["id"] == owner.json()["id"]


@pytest.mark.parametrize("database_url", [None])
def test_bad_external_tokens_are_refused(oidc_client, idp):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    none_token = jwt.encode(
        {"iss": idp.issuer, "aud": AUDIENCE, "sub": "x", "exp": utcnow() + timedelta(minutes=5)},
        key=None,
        algorithm="none",
    )
    bad = {
        "expired": idp.token(exp=utcnow() - timedelta(minutes=5)),
        "not yet valid": idp.token(nbf=utcnow() + timedelta(minutes=5)),
        "wrong audience": idp.token(aud="someone-else"),
        "wrong issuer": idp.token(iss="https://evil.example"),
        "forged (other key)": idp.token(key=other_key),
        "unknown kid": idp.token(headers={"kid": "nope"}),
        "alg none": none_token,
        "HS256 with the public key": _hs256_confusion(idp, public_pem),
        "no subject": idp.token(sub=None),
    }
    for name, token in bad.items():
        assert _me(oidc_client, token).status_code == 401, name
    assert _me(oidc_client, idp.token()).status_code == 200


def _hs256_confusion(idp: _IdP, public_pem: bytes) -> str:
    # The classic algorithm-confusion attack: HMAC keyed with the issuer's public key.
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": idp.kid}
    now = utcnow()
    claims = {
        "iss": idp.issuer,
        "aud": AUDIENCE,
        "sub": "x",
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }

    def b64(data: bytes) -> str:
        import base64

        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("database_url", [None])
def test_auth_config_exposes_the_issuer_for_the_ui(oidc_client, idp):
    config = oidc_client.get("/api/auth/config").json()
    assert config["registration"] is True
    assert config["oidc"] == {
        "issuer": idp.issuer,
        "client_id": "spa-client",
        "audience": AUDIENCE,
        "authorization_endpoint": f"{idp.issuer}/authorize",
        "provider_name": "Test IdP",
    }


@pytest.mark.parametrize("database_url", [None])
def test_external_e_mails_are_normalised_and_length_checked_like_local_ones(oidc_client, idp):
    me = _me(oidc_client, idp.token(sub="idp|carol", email="Carol\u200b@IdP.Example"))
    assert me.json()["email"] == "carol@idp.example"
    long = _me(oidc_client, idp.token(sub="idp|dave", email="d" * 5000 + "@idp.example"))
    assert long.status_code == 200 and long.json()["email"] is None
