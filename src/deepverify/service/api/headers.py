"""Security headers on every response: CSP, no framing, no sniffing, no referrer.

The UI's pages get a Content-Security-Policy that allows scripts from this origin and, by
their SHA-256 hashes, exactly the inline scripts the static export put in that page (Next.js
inlines its bootstrap data), so the UI keeps working while injected script does not run. API
responses get ``default-src 'none'``. A response that set its own policy keeps it (the report
page, framed by the UI).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepverify.service.core.settings import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@cache
def _script_hashes(path: Path, mtime_ns: int) -> tuple[str, ...]:
    data = path.read_bytes()
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + "'"
        for body in _INLINE_SCRIPT.findall(data)
        if body.strip()
    }
    return tuple(sorted(hashes))


def inline_script_hashes(page: Path) -> tuple[str, ...]:
    """CSP source expressions for the inline scripts of an HTML page (cached per version)."""
    return _script_hashes(page, page.stat().st_mtime_ns)


def page_policy(settings: Settings, page: Path | None) -> str:
    """The Content-Security-Policy of a UI page (``page``: the HTML file served, if any)."""
    issuer = ""
    if settings.oidc_issuer:
        parts = urlsplit(settings.oidc_issuer)
        issuer = f" {parts.scheme}://{parts.netloc}"
    hashes = " ".join(inline_script_hashes(page)) if page and page.suffix == ".html" else ""
    return (
        f"default-src 'self'; script-src 'self' {hashes}".rstrip()
        + "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        f"connect-src 'self'{issuer}; frame-src 'self'; object-src 'none'; base-uri 'self'; "
        f"form-action 'self'{issuer}; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding :data:`BASE_HEADERS` and a default CSP where none was set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in BASE_HEADERS.items()
                    if name.lower().encode() not in present
                ]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", API_POLICY.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
