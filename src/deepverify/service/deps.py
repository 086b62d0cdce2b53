"""FastAPI dependencies: settings, database session, the current user.

``CurrentUser`` accepts only an ``Authorization: Bearer`` token (a local access token or an
external OIDC token), on every endpoint: the web UI fetches media and events with that header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from deepverify.service.models import User
from deepverify.service.oidc import OIDCVerifier
from deepverify.service.security import (
    API_SCOPE,
    InvalidTokenError,
    TokenClaims,
    decode_local_token,
    unverified_issuer,
)
from deepverify.service.services import users as users_service
from deepverify.service.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request, closed afterwards."""
    with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def _unauthorized(
    detail: str = "not authenticated: sign in and send a bearer token",
) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def verify_token(*, token: str, settings: Settings, oidc: OIDCVerifier | None) -> TokenClaims:
    """Verify a local or external token; raise :class:`InvalidTokenError` when it is refused."""
    issuer = unverified_issuer(token)
    if issuer == settings.token_issuer:
        return decode_local_token(settings=settings, token=token)
    if oidc is not None and issuer == oidc.issuer:
        return oidc.verify(token)
    raise InvalidTokenError(f"unknown token issuer {issuer!r}")


def _user_for(claims: TokenClaims, request: Request, settings: Settings) -> User:
    # Its own short session: the connection goes back to the pool before the endpoint runs, so a
    # long upload or event stream does not hold one (50 concurrent uploads exhausted the pool).
    with request.app.state.session_factory() as session:
        if claims.issuer == settings.token_issuer:
            user = users_service.get_user(session=session, user_id=claims.subject)
        else:
            user = users_service.get_or_create_external_user(
                session=session, issuer=claims.issuer, subject=claims.subject, email=claims.email
            )
    if user is None or not user.is_active:
        raise _unauthorized("the account no longer exists or is disabled")
    if claims.version is not None and claims.version != user.token_version:
        raise _unauthorized(
            "this token was revoked (signed out or password changed): sign in again"
        )
    return user


def get_current_user(request: Request, settings: SettingsDep, token: TokenDep) -> User:
    """The signed-in user (bearer token with API scope), else 401."""
    if not token:
        raise _unauthorized()
    try:
        claims = verify_token(token=token, settings=settings, oidc=request.app.state.oidc)
    except InvalidTokenError as exc:
        raise _unauthorized("invalid or expired token: sign in again") from exc
    if claims.scope != API_SCOPE:
        raise _unauthorized("this token is not valid for the API")
    return _user_for(claims, request, settings)


CurrentUser = Annotated[User, Depends(get_current_user)]
