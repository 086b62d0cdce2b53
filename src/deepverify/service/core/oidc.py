"""External sign-in: bearer JWTs from an OIDC issuer (Kinde, Firebase, Auth0, Keycloak, ...).

A token is accepted only when its signature verifies against a key of the issuer's JWKS and its
``iss``, ``aud``, ``exp`` and ``nbf`` claims check out, with an algorithm from the configured
allow-list (asymmetric only; ``none`` and HMAC are refused by the settings). The JWKS address comes
from ``DEEPVERIFY_OIDC_JWKS_URL`` or the issuer's discovery document. Provider notes:

- Firebase: issuer ``https://securetoken.google.com/<project-id>``, audience ``<project-id>``.
- Auth0: issuer ``https://<tenant>.auth0.com/`` (trailing slash), audience the API identifier.
- Keycloak: issuer ``https://<host>/realms/<realm>``, audience the client (add an audience mapper).
- Kinde: issuer ``https://<business>.kinde.com``, audience the API audience.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import jwt

from deepverify.service.core.emails import valid_email
from deepverify.service.core.security import API_SCOPE, InvalidTokenError, TokenClaims
from deepverify.service.core.settings import Settings

logger = logging.getLogger(__name__)
DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT_S = 10.0


class OIDCVerifier:
    """Verifies tokens of one configured issuer; discovery and keys are fetched lazily, cached."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("OIDC is not configured")
        self.issuer: str = settings.oidc_issuer
        self.audience: str = settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.email_claim = settings.oidc_email_claim
        self.leeway = settings.oidc_leeway_seconds
        self._jwks_url = settings.oidc_jwks_url
        self._discovery: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched once)."""
        with self._lock:
            if self._discovery is None:
                url = self.issuer.rstrip("/") + DISCOVERY_PATH
                response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
                response.raise_for_status()
                document = response.json()
                if document.get("issuer") != self.issuer:
                    raise InvalidTokenError("discovery document names another issuer")
                self._discovery = document
            return self._discovery

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self._jwks_url or str(self.discovery()["jwks_uri"])
            self._jwks = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=600, timeout=10)
        return self._jwks

    def verify(self, token: str) -> TokenClaims:
        """Verify ``token``; raise :class:`InvalidTokenError` on any failure."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self.algorithms:
                raise InvalidTokenError(f"algorithm {header.get('alg')!r} is not allowed")
            key = self._client().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except InvalidTokenError:
            raise
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as exc:
            logger.info("refused an OIDC token: %s", exc)
            raise InvalidTokenError(str(exc)) from exc
        return TokenClaims(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            scope=API_SCOPE,
            email=valid_email(claims.get(self.email_claim)),  # as local sign-up stores it
        )

    def authorization_endpoint(self) -> str | None:
        """The issuer's authorization endpoint from discovery (None when unreachable)."""
        try:
            endpoint = self.discovery().get("authorization_endpoint")
        except (httpx.HTTPError, ValueError, InvalidTokenError) as exc:
            logger.warning("OIDC discovery failed: %s", exc)
            return None
        return endpoint if isinstance(endpoint, str) else None
