"""Settings: validated at start-up, the default secret refused outside development."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.errors import ConfigError
from deepverify.service.core.settings import load_settings

LONG_KEY = "k" * 40


def test_defaults_are_a_local_sqlite_product(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPVERIFY_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.port == 8000 and settings.host == "127.0.0.1"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'deepverify.db'}"
    assert settings.max_upload_bytes == 500 * 1024 * 1024
    assert not settings.uses_celery
    assert settings.secret_key is None  # generated on first start (deepverify.service.core.keys)


def test_environment_variables_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPVERIFY_PORT", "8123")
    monkeypatch.setenv("DEEPVERIFY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DEEPVERIFY_OIDC_ALGORITHMS", '["RS256", "ES256"]')
    settings = load_settings(home=tmp_path)
    assert settings.port == 8123
    assert settings.uses_celery
    assert settings.oidc_algorithms == ["RS256", "ES256"]


@pytest.mark.parametrize("environment", ["production", "test"])
def test_default_secret_refused_outside_development(environment, tmp_path):
    with pytest.raises(ConfigError, match="DEEPVERIFY_SECRET_KEY must be set"):
        load_settings(environment=environment, home=tmp_path)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings(environment=environment, home=tmp_path, secret_key="short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings(environment="development", home=tmp_path, secret_key="short")
    assert load_settings(environment=environment, home=tmp_path, secret_key=LONG_KEY)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": 0}, "DEEPVERIFY_PORT"),
        ({"max_upload_bytes": 0}, "DEEPVERIFY_MAX_UPLOAD_BYTES"),
        ({"oidc_issuer": "https://idp.example"}, "DEEPVERIFY_OIDC_AUDIENCE must be set"),
        ({"oidc_algorithms": ["none"]}, "asymmetric"),
        ({"oidc_algorithms": ["HS256"]}, "asymmetric"),
        ({"environment": "staging"}, "DEEPVERIFY_ENVIRONMENT"),
    ],
)
def test_invalid_settings_are_one_line_errors(overrides, message, tmp_path: Path):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(home=tmp_path, **overrides)
    assert "\n" not in str(info.value)


def test_inference_threads_are_read_under_the_old_name_too(monkeypatch, tmp_path):
    assert load_settings(home=tmp_path).inference_threads == 2
    monkeypatch.setenv("DEEPVERIFY_TORCH_THREADS", "3")  # deprecated name, still honoured
    assert load_settings(home=tmp_path).inference_threads == 3
    monkeypatch.setenv("DEEPVERIFY_INFERENCE_THREADS", "4")
    assert load_settings(home=tmp_path).inference_threads == 4
    assert load_settings(home=tmp_path, inference_threads=1).inference_threads == 1
    monkeypatch.setenv("DEEPVERIFY_INFERENCE_THREADS", "0")
    with pytest.raises(ConfigError, match="DEEPVERIFY_INFERENCE_THREADS"):
        load_settings(home=tmp_path)


def test_storage_settings(monkeypatch, tmp_path):
    assert load_settings(home=tmp_path).storage == "local"
    with pytest.raises(ConfigError, match="DEEPVERIFY_S3_BUCKET must be set"):
        load_settings(home=tmp_path, storage="s3")
    with pytest.raises(ConfigError, match="DEEPVERIFY_STORAGE"):
        load_settings(home=tmp_path, storage="nfs")
    with pytest.raises(ConfigError, match="must not start with '/'"):
        load_settings(home=tmp_path, storage="s3", s3_bucket="b", s3_prefix="/x")
    monkeypatch.setenv("DEEPVERIFY_STORAGE", "s3")
    monkeypatch.setenv("DEEPVERIFY_S3_BUCKET", "media")
    monkeypatch.setenv("DEEPVERIFY_S3_PATH_STYLE", "true")
    monkeypatch.setenv("DEEPVERIFY_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    settings = load_settings(home=tmp_path)
    assert (settings.storage, settings.s3_bucket, settings.s3_path_style) == ("s3", "media", True)
    assert settings.s3_endpoint_url == "http://127.0.0.1:8333" and settings.s3_region is None
    assert not any(
        "secret" in name or "access_key" in name
        for name in type(settings).model_fields
        if name.startswith("s3")
    )
