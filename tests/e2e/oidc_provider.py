"""A minimal OpenID Connect provider on loopback, for testing the UI's sign-in with PKCE.

It serves discovery, a JWKS with one RSA key, an authorization endpoint that approves at once
(redirecting back with a code) and a token endpoint that insists on the PKCE verifier matching
the S256 challenge. Tokens are RS256 JWTs: the access token for the API's audience, the ID token
for the client. It records what it was asked, so tests can check the flow, not just its end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "test-key"


@dataclass
class FakeProvider:
    """The provider's state: its address, key, settings and what happened."""

    issuer: str
    client_id: str
    audience: str
    email: str
    key: rsa.RSAPrivateKey = field(repr=False)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-42",
            "aud": audience,
            "email": self.email,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(
                    200,
                    {
                        "issuer": provider.issuer,
                        "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token",
                        "jwks_uri": f"{provider.issuer}/jwks",
                    },
                )
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                provider.authorize_requests.append(query)
                code = secrets.token_urlsafe(16)
                provider.codes[code] = query
                back = urlencode({"code": code, "state": query.get("state", "")})
                target = f"{query['redirect_uri']}?{back}"
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            request = provider.codes.pop(form.get("code", ""), None)
            problem = None
            if request is None:
                problem = "unknown or reused code"
            elif form.get("grant_type") != "authorization_code":
                problem = "wrong grant_type"
            elif form.get("client_id") != provider.client_id:
                problem = "wrong client_id"
            elif form.get("redirect_uri") != request.get("redirect_uri"):
                problem = "redirect_uri differs from the authorization request"
            elif request.get("code_challenge_method") != "S256":
                problem = "PKCE method is not S256"
            elif _s256(form.get("code_verifier", "")) != request.get("code_challenge"):
                problem = "PKCE verifier does not match the challenge"
            if problem:
                provider.refused.append(problem)
                self._json(400, {"error": "invalid_grant", "error_description": problem})
                return
            provider.issued.append(form)
            self._json(
                200,
                {
                    "access_token": provider.token(provider.audience),
                    "id_token": provider.token(provider.client_id),
                    "token_type": "Bearer",
                    "expires_in": 600,
                },
            )

    return Handler


@contextmanager
def fake_provider(
    *, client_id: str = "deepverify-web", audience: str = "deepverify-test-api", email: str
) -> Iterator[FakeProvider]:
    """Run the provider on a free loopback port until the block ends."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    provider = FakeProvider(
        issuer=issuer, client_id=client_id, audience=audience, email=email, key=key
    )
    server.RequestHandlerClass = _handler(provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
