"""The app around the API: the static web UI with SPA fallback, readiness, CORS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from deepverify.service.api.routes.web import resolve_page
from deepverify.service.main import create_app
from tests.service.conftest import wait_until

SECRET = "the-secret-a-traversal-would-leak"

pytestmark = pytest.mark.parametrize("database_url", [None])  # nothing database-specific here


def test_web_ui_is_served_with_spa_fallback(settings, fake_analyzer):
    web = settings.web_dir
    (web / "_next" / "static").mkdir(parents=True)
    (web / "index.html").write_text("<html>home</html>")
    (web / "login.html").write_text("<html>login</html>")
    (web / "videos").mkdir()
    (web / "videos" / "index.html").write_text("<html>videos</html>")
    (web / "_next" / "static" / "app.js").write_text("console.log(1)")
    # Beside the web folder: exactly where a "../" escaping it would land.
    (web.parent / "secret.txt").write_text(SECRET)
    (web.parent / "secret").mkdir()
    (web.parent / "secret" / "index.html").write_text(SECRET)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        assert client.get("/").text == "<html>home</html>"
        assert client.get("/login").text == "<html>login</html>"
        assert client.get("/videos/").text == "<html>videos</html>"
        assert client.get("/_next/static/app.js").text == "console.log(1)"
        # Client-side routes fall back to the app shell...
        assert client.get("/videos/abc123/details").text == "<html>home</html>"
        # ...but never shadow the API or escape the folder.
        missing = client.get("/api/no-such-endpoint")
        assert missing.status_code == 404 and missing.json()["detail"] == "no such API endpoint"
        assert client.get("/api/health").json() == {"status": "ok"}
        for probe in ("/%2e%2e/secret.txt", "/%2E%2E/secret", "/_next/%2e%2e/%2e%2e/secret.txt"):
            assert SECRET not in client.get(probe).text, probe
    assert resolve_page(web, "../secret.txt") == web / "index.html"
    assert resolve_page(web, "../secret") == web / "index.html"


def test_without_a_built_ui_the_root_says_so(settings, fake_analyzer):
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        response = client.get("/")
        assert response.status_code == 404 and "not built" in response.json()["detail"]


def test_not_ready_until_the_model_loads(settings):
    def broken():
        raise RuntimeError("checkpoint missing")

    with TestClient(create_app(settings, analyzer_factory=broken)) as client:
        assert client.get("/api/health").status_code == 200
        assert wait_until(lambda: client.get("/api/ready").json()["detail"] is not None)
        response = client.get("/api/ready")
        assert response.status_code == 503
        assert response.json()["model"] is False and response.json()["database"] is True
        assert "checkpoint missing" in response.json()["detail"]


def test_cors_for_a_separate_ui_origin(make_settings, fake_analyzer):
    settings = make_settings(cors_origins=["http://localhost:3000"])
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        preflight = client.options(
            "/api/videos",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = client.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
