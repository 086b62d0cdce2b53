"""Generate, or check, the web UI's typed API client from the service's OpenAPI schema.

The UI knows the backend only through ``web/openapi.json`` (the schema of ``create_app()``) and
``web/src/lib/api/schema.d.ts`` (its TypeScript types, made by openapi-typescript). Usage::

    python scripts/web_client.py           # regenerate both files
    python scripts/web_client.py --check   # exit 1 when either is out of date

The schema is built in-process without starting the app (no database, no worker, no network).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
SCHEMA_JSON = WEB / "openapi.json"
SCHEMA_TS = WEB / "src" / "lib" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def build_schema() -> dict[str, Any]:
    """The service's OpenAPI document, as ``create_app()`` declares it."""
    from deepverify.service.core.settings import load_settings
    from deepverify.service.main import create_app

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home), oidc_issuer=None, broker_url=None)
        schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as committed: indented JSON with a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate_types(schema_json: Path, out: Path) -> None:
    """Run openapi-typescript (pinned in web/package-lock.json) on ``schema_json``."""
    if not GENERATOR.is_file():
        raise SystemExit(f"{GENERATOR} not found: run `npm ci` in web/ first")
    subprocess.run(
        [str(GENERATOR), str(schema_json), "--output", str(out)],
        check=True,
        cwd=WEB,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _diff(expected: str, actual: Path) -> str:
    current = actual.read_text(encoding="utf-8") if actual.is_file() else ""
    lines = difflib.unified_diff(
        current.splitlines(), expected.splitlines(), str(actual), "regenerated", lineterm="", n=1
    )
    return "\n".join(list(lines)[:40])


def check(schema_json: Path = SCHEMA_JSON, schema_ts: Path = SCHEMA_TS) -> int:
    """0 when the committed schema and types match the service; 1 (with a diff) otherwise."""
    text = schema_text(build_schema())
    problems: list[str] = []
    if not schema_json.is_file() or schema_json.read_text(encoding="utf-8") != text:
        problems.append(_diff(text, schema_json))
    if GENERATOR.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            fresh_json = Path(tmp) / "openapi.json"
            fresh_json.write_text(text, encoding="utf-8")
            fresh_ts = Path(tmp) / "schema.d.ts"
            generate_types(fresh_json, fresh_ts)
            types = fresh_ts.read_text(encoding="utf-8")
        if not schema_ts.is_file() or schema_ts.read_text(encoding="utf-8") != types:
            problems.append(_diff(types, schema_ts))
    else:
        print(f"note: {GENERATOR} missing, checked openapi.json only", file=sys.stderr)
    if problems:
        print("the web API client is out of date with the service; run `make web-client`:")
        print("\n".join(problems))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Regenerate the client files, or with ``--check`` exit 1 when they are out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    parser.add_argument("--schema-json", type=Path, default=SCHEMA_JSON, help=argparse.SUPPRESS)
    parser.add_argument("--schema-ts", type=Path, default=SCHEMA_TS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        return check(args.schema_json, args.schema_ts)
    SCHEMA_JSON.write_text(schema_text(build_schema()), encoding="utf-8")
    generate_types(SCHEMA_JSON, SCHEMA_TS)
    print(f"wrote {SCHEMA_JSON.relative_to(REPO)} and {SCHEMA_TS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
