"""The signing key: never in the source, generated privately on first start, kept on restart."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from deepverify.errors import ConfigError
from deepverify.service.core.keys import SECRET_KEY_FILE, is_loopback, with_secret_key
from deepverify.service.core.settings import load_settings
from deepverify.service.main import create_app
from tests.service.conftest import sign_up

# The key earlier versions fell back to when none was configured.
OLD_DEFAULT_KEY = "dev-insecure-secret-key-change-me-outside-development"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _forged(user_id: str, key: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "deepverify", "aud": "deepverify-api", "sub": user_id, "scope": "api",
        "iat": now, "nbf": now, "exp": now + timedelta(days=365 * 30),
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="HS256")


def test_without_a_key_a_private_one_is_generated_and_the_old_default_is_refused(
    tmp_path, fake_analyzer
):
    home = tmp_path / "home"
    settings = load_settings(home=home, web_dir=tmp_path / "web")
    assert settings.secret_key is None
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        headers = sign_up(client, "alice@example.com")
        user_id = client.get("/api/auth/me", headers=headers).json()["id"]
        forged = {"Authorization": f"Bearer {_forged(user_id, OLD_DEFAULT_KEY)}"}
        assert client.get("/api/auth/me", headers=forged).status_code == 401
    key_file = home / SECRET_KEY_FILE
    assert _mode(key_file) == 0o600
    assert _mode(home) == 0o700 and _mode(home / "uploads") == 0o700
    assert _mode(home / "deepverify.db") == 0o600
    assert OLD_DEFAULT_KEY not in key_file.read_text()

    # A restart reads the same key back: the token issued before still works.
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        assert client.get("/api/auth/me", headers=headers).status_code == 200


def test_a_generated_key_is_refused_on_a_public_address(tmp_path):
    settings = load_settings(home=tmp_path, host="0.0.0.0")
    with pytest.raises(
        ConfigError,
        match=r"on 0\.0\.0\.0 with a generated secret key: set DEEPVERIFY_SECRET_KEY",
    ):
        with_secret_key(settings)
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    allowed = load_settings(
        home=tmp_path, host="0.0.0.0", allow_generated_secret_on_public_host=True
    )
    assert with_secret_key(allowed).secret_key is not None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback
