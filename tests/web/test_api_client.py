"""The web UI's committed API client must match the service's current OpenAPI schema.

``scripts/web_client.py --check`` rebuilds the schema from ``create_app()`` and, when the web
dependencies are installed, the TypeScript types from it; any difference fails here, so an API
change without ``make web-client`` fails ``make test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "web_client.py"
GENERATOR = REPO / "web" / "node_modules" / ".bin" / "openapi-typescript"


def _check(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_committed_client_matches_the_service_schema() -> None:
    if os.environ.get("DEEPVERIFY_REQUIRE_SERVICES") == "1" and not GENERATOR.is_file():
        pytest.fail("web dependencies are not installed (npm ci in web/): cannot check the types")
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_covers_what_the_ui_calls() -> None:
    schema = json.loads((REPO / "web" / "openapi.json").read_text(encoding="utf-8"))
    paths = schema["paths"]
    for path, method in [
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/me", "get"),
        ("/api/auth/config", "get"),
        ("/api/videos", "post"),
        ("/api/videos", "get"),
        ("/api/videos/{video_id}", "get"),
        ("/api/videos/{video_id}", "delete"),
        ("/api/videos/{video_id}/events", "get"),
        ("/api/videos/{video_id}/report.html", "get"),
        ("/api/videos/{video_id}/images/{image_path}", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from the schema"
    assert "Report" in schema["components"]["schemas"]


def test_check_detects_a_stale_schema(tmp_path: Path) -> None:
    """The check really compares: a schema missing an endpoint is reported, with the diff."""
    stale = json.loads((REPO / "web" / "openapi.json").read_text(encoding="utf-8"))
    stale["paths"].pop("/api/health")
    stale_json = tmp_path / "openapi.json"
    stale_json.write_text(json.dumps(stale, indent=2) + "\n", encoding="utf-8")
    types = REPO / "web" / "src" / "lib" / "api" / "schema.d.ts"
    result = _check("--schema-json", str(stale_json), "--schema-ts", str(types))
    assert result.returncode == 1
    assert "out of date" in result.stdout
    assert "/api/health" in result.stdout
