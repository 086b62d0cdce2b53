"""Security headers on the UI, the API and the report page; Swagger UI never from a CDN."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fastapi.testclient import TestClient

from deepverify.service.main import create_app
from tests.service.conftest import sign_up, upload, wait_for

INLINE = b"self.__next_f=self.__next_f||[]"
PAGE = (
    b"<html><head><script>" + INLINE + b"</script><script src='/_next/a.js'></script></head></html>"
)


def _common(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("database_url", [None])
def test_ui_pages_allow_their_own_inline_scripts_and_no_framing(make_settings, fake_analyzer):
    settings = make_settings()
    settings.web_dir.mkdir(parents=True)
    (settings.web_dir / "index.html").write_bytes(PAGE)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        page = client.get("/")
        policy = page.headers["Content-Security-Policy"]
        digest = base64.b64encode(hashlib.sha256(INLINE).digest()).decode()
        assert f"'sha256-{digest}'" in policy
        assert (
            "frame-ancestors 'none'" in policy
            and "'unsafe-inline'" not in policy.split("style-src")[0]
        )
        assert page.headers["X-Frame-Options"] == "DENY"
        _common(page)
        signin = client.get("/signin")  # a client route: index.html, same protection
        assert "frame-ancestors 'none'" in signin.headers["Content-Security-Policy"]


def test_api_and_report_headers(client, clip_bytes):
    health = client.get("/api/health")
    assert health.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    _common(health)
    headers = sign_up(client, "headers@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    wait_for(client, headers, video_id)
    _common(client.get(f"/api/videos/{video_id}", headers=headers))
    report = client.get(f"/api/videos/{video_id}/report.html", headers=headers)
    assert "frame-ancestors 'self'" in report.headers["Content-Security-Policy"]  # the UI frames it
    assert report.headers["X-Frame-Options"] == "SAMEORIGIN"
    _common(report)


@pytest.mark.parametrize("database_url", [None])
def test_swagger_ui_is_off_by_default_and_served_locally_when_on(make_settings, fake_analyzer):
    with TestClient(create_app(make_settings(), analyzer_factory=lambda: fake_analyzer)) as client:
        assert client.get("/api/docs").status_code == 404
    settings = make_settings(api_docs=True)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        docs = client.get("/api/docs")
        assert docs.status_code == 200
        assert (
            "cdn" not in docs.text.lower() and "/api/docs/static/swagger-ui-bundle.js" in docs.text
        )
        assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]
        bundle = client.get("/api/docs/static/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 100_000
