"""Local accounts and token checks: 401 without a valid token, whatever is wrong with it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.service.core.models import utcnow
from deepverify.service.core.security import API_SCOPE, create_token
from tests.service.conftest import PASSWORD, TEST_SECRET, sign_up, upload

PROTECTED = [
    ("GET", "/api/auth/me"),
    ("GET", "/api/videos"),
    ("POST", "/api/videos"),
    ("GET", "/api/videos/0123456789abcdef0123456789abcdef"),
    ("DELETE", "/api/videos/0123456789abcdef0123456789abcdef"),
    ("GET", "/api/videos/0123456789abcdef0123456789abcdef/images/heatmaps/track0_000.png"),
    ("GET", "/api/videos/0123456789abcdef0123456789abcdef/events"),
    ("GET", "/api/videos/0123456789abcdef0123456789abcdef/report.html"),
]


def _claims(**changes):
    now = utcnow()
    claims = {
        "iss": "deepverify",
        "aud": "deepverify-api",
        "sub": "someone",
        "scope": API_SCOPE,
        "ver": 0,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def test_register_login_me(client):
    response = client.post(
        "/api/auth/register", json={"email": "Ada@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "ada@example.com" and user["provider"] == "local"
    assert "password" not in json.dumps(user) and "hash" not in json.dumps(user)
    token = client.post(
        "/api/auth/login", data={"username": "ada@EXAMPLE.com", "password": PASSWORD}
    ).json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user["id"]


def test_password_is_stored_as_argon2(client, settings):
    sign_up(client, "hash@example.com")
    from sqlalchemy import select

    from deepverify.service.core.models import User

    with client.app.state.session_factory() as session:
        hashed = session.scalar(select(User.hashed_password))
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed


def test_register_rejects_duplicates_and_bad_input(client):
    sign_up(client, "dup@example.com")
    again = client.post(
        "/api/auth/register", json={"email": "dup@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    for body in (
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "short@example.com", "password": "1234567"},
        {"email": "missing@example.com"},
    ):
        assert client.post("/api/auth/register", json=body).status_code == 422


def test_wrong_password_and_unknown_user_are_the_same_401(client):
    sign_up(client, "pw@example.com")
    wrong = client.post("/api/auth/login", data={"username": "pw@example.com", "password": "nope"})
    unknown = client.post("/api/auth/login", data={"username": "x@example.com", "password": "no"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize("database_url", [None])
def test_registration_can_be_disabled(make_settings, fake_analyzer):
    from fastapi.testclient import TestClient

    from deepverify.service.main import create_app

    app = create_app(
        make_settings(allow_registration=False), analyzer_factory=lambda: fake_analyzer
    )
    with TestClient(app) as client:
        body = {"email": "a@example.com", "password": PASSWORD}
        assert client.post("/api/auth/register", json=body).status_code == 403
        config = client.get("/api/auth/config").json()
        assert config["registration"] is False and config["oidc"] is None


@pytest.mark.parametrize("database_url", [None])
def test_config_states_the_upload_limit_the_server_enforces(
    make_settings, fake_analyzer, clip_bytes
):
    """The UI refuses files over the stated limit: it must be the limit uploads really meet."""
    from fastapi.testclient import TestClient

    from deepverify.service.main import create_app

    data = clip_bytes(0)
    app = create_app(
        make_settings(max_upload_bytes=len(data)), analyzer_factory=lambda: fake_analyzer
    )
    with TestClient(app) as client:
        limit = client.get("/api/auth/config").json()["max_upload_bytes"]
        assert limit == len(data)
        headers = sign_up(client, "limit@example.com")
        over = upload(client, headers, data + b"\0", name="over.mp4")
        assert over.status_code == 413, over.text
        assert f"larger than the limit of {limit} bytes" in over.json()["detail"]
        assert upload(client, headers, data, name="at-limit.mp4").status_code == 202


def test_config_sends_the_core_video_suffixes(client):
    """The UI's file check and drop-zone hint read the one list the core uses."""
    assert client.get("/api/auth/config").json()["video_suffixes"] == list(VIDEO_SUFFIXES)


def test_unauthenticated_requests_are_401(client):
    for method, path in PROTECTED:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


def test_bad_tokens_are_refused(client, settings):
    headers = sign_up(client, "victim@example.com")
    user_id = client.get("/api/auth/me", headers=headers).json()["id"]
    key = TEST_SECRET
    bad = {
        "expired": jwt.encode(
            _claims(sub=user_id, exp=utcnow() - timedelta(seconds=5)), key, algorithm="HS256"
        ),
        "not yet valid": jwt.encode(
            _claims(sub=user_id, nbf=utcnow() + timedelta(minutes=5)), key, algorithm="HS256"
        ),
        "forged": jwt.encode(_claims(sub=user_id), "another-key-" * 4, algorithm="HS256"),
        "wrong issuer": jwt.encode(_claims(sub=user_id, iss="evil"), key, algorithm="HS256"),
        "wrong audience": jwt.encode(_claims(sub=user_id, aud="other"), key, algorithm="HS256"),
        "no expiry": jwt.encode(_claims(sub=user_id, exp=None), key, algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(sub=user_id))}.",
        "HS512": jwt.encode(_claims(sub=user_id), key * 2, algorithm="HS512"),
        "other scope": jwt.encode(_claims(sub=user_id, scope="video:x"), key, algorithm="HS256"),
        "unknown user": create_token(settings=settings, user_id="0" * 32, version=0),
        "garbage": "not.a.token",
    }
    for name, token in bad.items():
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    # The same key, claims and algorithm do work: the refusals above are for what was changed.
    good = jwt.encode(_claims(sub=user_id), key, algorithm="HS256")
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    )
