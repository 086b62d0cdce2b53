"""Local accounts: argon2 password hashes and signed, expiring access tokens (PyJWT, HS256).

One kind of local token is issued: the bearer access token returned by ``POST /api/auth/login``,
with the ``api`` scope. A token with any other scope is refused.

Passwords are hashed with argon2id at argon2-cffi's defaults (RFC 9106 low-memory profile: 3
passes over 64 MiB, 4 lanes). Tests swap in cheap parameters with :func:`use_password_hasher`;
nothing in the service does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from deepverify.service.core.models import utcnow
from deepverify.service.core.settings import Settings

LOCAL_ALGORITHM = "HS256"
MIN_PASSWORD_SCORE = 3  # zxcvbn: 0 (top-100 password) to 4 (strong)
MAX_CHECKED_PASSWORD = 100  # zxcvbn's cost grows with length; a long tail adds no weakness
API_SCOPE = "api"
PRODUCTION_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
_hasher = PRODUCTION_HASHER


class InvalidTokenError(Exception):
    """A bearer token was malformed, forged, expired or not meant for us (-> 401)."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token tells us: who, through which issuer, and for what."""

    issuer: str
    subject: str
    scope: str
    email: str | None = None
    version: int | None = None  # local tokens: the user's token version when it was issued


def use_password_hasher(hasher: PasswordHasher | None) -> None:
    """Hash and verify passwords with ``hasher`` from now on; None restores the production one.

    For tests, where argon2 at production cost dominates every sign-up. The hasher must produce
    argon2id hashes, so stored hashes look the same whichever one made them.

    Raises:
        ValueError: ``hasher`` is not an argon2id hasher.
    """
    global _hasher
    chosen = hasher or PRODUCTION_HASHER
    if chosen.type is not Type.ID:
        raise ValueError(f"the password hasher must use argon2id, not {chosen.type.name}")
    _hasher = chosen
    _dummy_hash.cache_clear()


@cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so a login takes as long either way; made with
    # the current hasher so that it costs what a real verification costs.
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


def password_problem(password: str, *, email: str | None) -> str | None:
    """Why ``password`` is too weak (common, guessable, derived from the e-mail); None if fine.

    Strength is estimated with zxcvbn (dictionaries of common passwords, names, keyboard
    patterns, dates), given the e-mail and its parts as words an attacker would try first.
    """
    from zxcvbn import zxcvbn

    hints = [email, *re.split(r"[@.+_-]", email)] if email else []
    hints = [hint for hint in hints if hint]
    lowered = password.lower()
    if any(len(hint) >= 3 and hint.lower() in lowered for hint in hints):
        return "the password must not contain your e-mail address or its parts"
    result = zxcvbn(password[:MAX_CHECKED_PASSWORD], user_inputs=hints)
    if result["score"] < MIN_PASSWORD_SCORE:
        advice = result["feedback"].get("warning") or "it is too easy to guess"
        return (
            f"this password is too weak ({advice.rstrip('.').lower()}); use a longer phrase of "
            "several unrelated words"
        )
    return None


def create_token(
    *,
    settings: Settings,
    user_id: str,
    version: int,
    expires_in: timedelta | None = None,
) -> str:
    """Sign a local token for ``user_id`` at token ``version``, valid ``expires_in``.

    ``expires_in`` defaults to the access-token lifetime.
    """
    now = utcnow()
    lifetime = expires_in or timedelta(minutes=settings.access_token_expire_minutes)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": user_id,
        "scope": API_SCOPE,
        "ver": version,
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
    scope, version = claims.get("scope"), claims.get("ver")
    if not isinstance(scope, str):
        raise InvalidTokenError("token has no scope")
    if not isinstance(version, int):
        raise InvalidTokenError("token has no version")
    return TokenClaims(
        issuer=settings.token_issuer, subject=str(claims["sub"]), scope=scope, version=version
    )


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` claim of ``token`` before verification, only to pick the verifier."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
