"""FastAPI dependencies: what a route needs from the app, declared as ``Annotated`` types.

The app keeps its parts (settings, database, dispatcher, OIDC verifier, throttles) on
``app.state``; only this module reads them there, so a route names what it uses in its signature.

``CurrentUser`` accepts only an ``Authorization: Bearer`` token (a local access token or an
external OIDC token), on every endpoint: the web UI fetches media and events with that header.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deepverify.service.core.models import User
from deepverify.service.core.oidc import OIDCVerifier
from deepverify.service.core.security import (
    API_SCOPE,
    InvalidTokenError,
    TokenClaims,
    decode_local_token,
    unverified_issuer,
)
from deepverify.service.core.settings import Settings
from deepverify.service.core.throttle import Throttle, throttle_storage
from deepverify.service.jobs.dispatch import Dispatcher
from deepverify.service.services import users as users_service
from deepverify.service.services.live import LiveSessions

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionFactory = sessionmaker[Session]


def get_session_factory(request: Request) -> SessionFactory:
    """Opens short database sessions of a route's own (streams, uploads: hold no connection)."""
    factory: SessionFactory = request.app.state.session_factory
    return factory


def get_session(
    factory: Annotated[SessionFactory, Depends(get_session_factory)],
) -> Iterator[Session]:
    """A database session for one request, closed afterwards."""
    with factory() as session:
        yield session


def get_database(request: Request) -> Engine:
    """The database engine (for the readiness check)."""
    db_engine: Engine = request.app.state.db_engine
    return db_engine


def get_dispatcher(request: Request) -> Dispatcher:
    """How jobs reach the workers."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def get_oidc(request: Request) -> OIDCVerifier | None:
    """The external sign-in verifier, when an OIDC issuer is configured."""
    oidc: OIDCVerifier | None = request.app.state.oidc
    return oidc


@dataclass(frozen=True)
class Throttles:
    """Failed sign-ins per account and per address, and sign-ups per address."""

    account: Throttle
    address: Throttle
    registration: Throttle

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttles:
        """The throttles with the configured limits and windows, counting in one storage.

        With a Redis broker that storage is the broker's Redis, so every API process (and every
        app made with the same settings) shares the counts.
        """
        storage = throttle_storage(settings.broker_url)
        window = settings.login_window_seconds
        return cls(
            account=Throttle(
                name="login-account",
                max_failures=settings.login_max_failures_per_account,
                window_s=window,
                storage=storage,
            ),
            address=Throttle(
                name="login-address",
                max_failures=settings.login_max_failures_per_address,
                window_s=window,
                storage=storage,
            ),
            registration=Throttle(
                name="registration",
                max_failures=settings.registrations_per_address,
                window_s=settings.registration_window_seconds,
                storage=storage,
            ),
        )


def get_throttles(request: Request) -> Throttles:
    """The app's sign-in throttles."""
    throttles: Throttles = request.app.state.throttles
    return throttles


def get_live(request: Request) -> LiveSessions:
    """The app's live sessions."""
    live: LiveSessions = request.app.state.live
    return live


SettingsDep = Annotated[Settings, Depends(get_settings)]
LiveDep = Annotated[LiveSessions, Depends(get_live)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]
DatabaseDep = Annotated[Engine, Depends(get_database)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
OIDCDep = Annotated[OIDCVerifier | None, Depends(get_oidc)]
ThrottlesDep = Annotated[Throttles, Depends(get_throttles)]
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


def _user_for(claims: TokenClaims, factory: SessionFactory, settings: Settings) -> User:
    # Its own short session: the connection goes back to the pool before the endpoint runs, so a
    # long upload or event stream does not hold one (50 concurrent uploads exhausted the pool).
    with factory() as session:
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


def get_current_user(
    settings: SettingsDep, token: TokenDep, oidc: OIDCDep, factory: SessionFactoryDep
) -> User:
    """The signed-in user (bearer token with API scope), else 401."""
    if not token:
        raise _unauthorized()
    return user_from_token(token, settings=settings, oidc=oidc, factory=factory)


def user_from_token(
    token: str, *, settings: Settings, oidc: OIDCVerifier | None, factory: SessionFactory
) -> User:
    """The user an API token belongs to (also for WebSockets, which carry no header), else 401.

    Raises:
        HTTPException: 401 with the reason.
    """
    try:
        claims = verify_token(token=token, settings=settings, oidc=oidc)
    except InvalidTokenError as exc:
        raise _unauthorized("invalid or expired token: sign in again") from exc
    if claims.scope != API_SCOPE:
        raise _unauthorized("this token is not valid for the API")
    return _user_for(claims, factory, settings)


CurrentUser = Annotated[User, Depends(get_current_user)]
