"""Local accounts: argon2 password hashes and signed, expiring access tokens (PyJWT, HS256).

Two kinds of local token are issued, told apart by the ``scope`` claim:

- ``api``: the bearer access token returned by ``POST /api/auth/login``;
- ``video:<id>``: a short-lived, read-only media token for one video, for what a browser cannot
  fetch with an ``Authorization`` header (an ``EventSource``, an ``<img>``, an ``<iframe>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from deepverify.service.models import utcnow
from deepverify.service.settings import Settings

LOCAL_ALGORITHM = "HS256"
API_SCOPE = "api"
_hasher = PasswordHasher()


class InvalidTokenError(Exception):
    """A bearer token was malformed, forged, expired or not meant for us (-> 401)."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token tells us: who, through which issuer, and for what."""

    issuer: str
    subject: str
    scope: str
    email: str | None = None


@cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so a login takes as long either way.
    return _hasher.hash("deepverify-timing-equaliser")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """True when ``password`` matches ``hashed``; constant work when there is no hash."""
    try:
        return _hasher.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def create_token(
    *, settings: Settings, user_id: str, scope: str = API_SCOPE, expires_in: timedelta | None = None
) -> str:
    """Sign a local token for ``user_id``, valid ``expires_in`` (default: the access lifetime)."""
    now = utcnow()
    lifetime = expires_in or timedelta(minutes=settings.access_token_expire_minutes)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": user_id,
        "scope": scope,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, settings.signing_key, algorithm=LOCAL_ALGORITHM)


def decode_local_token(*, settings: Settings, token: str) -> TokenClaims:
    """Verify a token we signed (signature, issuer, audience, expiry, not-before)."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[LOCAL_ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    scope = claims.get("scope")
    if not isinstance(scope, str):
        raise InvalidTokenError("token has no scope")
    return TokenClaims(issuer=settings.token_issuer, subject=str(claims["sub"]), scope=scope)


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` claim of ``token`` before verification, only to pick the verifier."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
