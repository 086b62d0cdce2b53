"""``/api/auth``: registration, sign-in (throttled), sign-out, password change, account deletion.

Also the current user and the sign-in options for the UI.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.service.api.deps import (
    CurrentUser,
    OIDCDep,
    SessionDep,
    SettingsDep,
    Throttles,
    ThrottlesDep,
)
from deepverify.service.api.schemas import (
    AccountDeletion,
    AuthConfig,
    Message,
    OIDCConfig,
    PasswordChange,
    Token,
    UserCreate,
    UserPublic,
)
from deepverify.service.core.emails import normalise_email
from deepverify.service.core.models import User
from deepverify.service.core.security import create_token, password_problem, verify_password
from deepverify.service.core.settings import Settings
from deepverify.service.core.throttle import Throttle, ThrottleUnavailableError
from deepverify.service.services import users as users_service

router = APIRouter(prefix="/auth", tags=["auth"])


def _throttled(request: Request, *keys: tuple[Throttle, str]) -> None:
    """429 with ``Retry-After`` when any (throttle, key) is locked; 503 when none can be read."""
    try:
        wait = max(throttle.retry_after(key) for throttle, key in keys)
    except ThrottleUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed attempts; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _address(request: Request) -> str:
    # The peer address; uvicorn replaces it from X-Forwarded-For only for the configured
    # DEEPVERIFY_TRUSTED_PROXIES (see deepverify.service.server).
    return request.client.host if request.client else "unknown"


def _weak(password: str, email: str | None) -> None:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, problem)


def _token(settings: Settings, user: User) -> Token:
    token = create_token(settings=settings, user_id=user.id, version=user.token_version)
    return Token(access_token=token, expires_in=settings.access_token_expire_minutes * 60)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    operation_id="auth_register",
    responses={
        400: {"model": Message},
        403: {"model": Message},
        409: {"model": Message},
        429: {"model": Message},
    },
)
def register(
    body: UserCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttles: ThrottlesDep,
) -> UserPublic:
    """Create a local account (e-mail and a password that is not easy to guess).

    A taken e-mail answers 409: without e-mail delivery, answering "created" would leave the
    person unable to sign in with the password they just chose. Probing for accounts this way
    counts as failed attempts of the client address (429 beyond the limit), like sign-in.
    """
    if not settings.allow_registration:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "registration is disabled on this server")
    address = (throttles.address, _address(request))
    signups = (throttles.registration, _address(request))
    _throttled(request, address, signups)
    _weak(body.password, body.email)
    try:
        user = users_service.create_local_user(
            session=session, email=body.email, password=body.password
        )
    except users_service.EmailTakenError as exc:
        address[0].failed(address[1])
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    signups[0].failed(signups[1])  # counts sign-ups: a few per address and window
    return UserPublic.model_validate(user)


@router.post(
    "/login",
    response_model=Token,
    operation_id="auth_login",
    responses={401: {"model": Message}, 429: {"model": Message}},
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    throttles: ThrottlesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: ``username`` (the e-mail) and ``password`` -> a bearer token.

    Failed attempts are counted per account *and* client address together, and per client
    address; beyond the limits the answer is 429 with ``Retry-After``, without checking the
    password. Keyed on the account alone, a stranger's five guesses would lock the owner out.
    """
    email = normalise_email(form.username)
    account = (throttles.account, f"{_address(request)} {email}")
    address = (throttles.address, _address(request))
    _throttled(request, account, address)
    user = users_service.authenticate(session=session, email=email, password=form.password)
    if user is None:
        for throttle, key in (account, address):
            throttle.failed(key)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong e-mail or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    account[0].clear(account[1])
    return _token(settings, user)


@router.post(
    "/logout",
    response_model=Message,
    operation_id="auth_logout",
    responses={401: {"model": Message}},
)
def logout(user: CurrentUser, session: SessionDep) -> Message:
    """Sign out everywhere: every token issued to this account so far stops working.

    External (OIDC) tokens are the identity provider's to revoke; sign out there too.
    """
    users_service.revoke_tokens(session=session, user=user)
    return Message(detail="signed out")


def _confirm_password(
    request: Request, throttles: Throttles, user: User, password: str, wrong: str
) -> None:
    """Check a local account's password under the per-account throttle (400 ``wrong``)."""
    assert user.hashed_password is not None
    account = (throttles.account, f"{_address(request)} {user.email or user.id}")
    _throttled(request, account)
    if not verify_password(password, user.hashed_password):
        account[0].failed(account[1])
        raise HTTPException(status.HTTP_400_BAD_REQUEST, wrong)


@router.post(
    "/password",
    response_model=Token,
    operation_id="auth_change_password",
    responses={400: {"model": Message}, 401: {"model": Message}, 429: {"model": Message}},
)
def change_password(
    body: PasswordChange,
    request: Request,
    throttles: ThrottlesDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """Change the password (local accounts).

    Every other session is signed out; this one gets a new token.
    """
    if user.hashed_password is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "this account signs in elsewhere; change it there"
        )
    _confirm_password(
        request, throttles, user, body.current_password, "the current password is wrong"
    )
    _weak(body.new_password, user.email)
    user = users_service.change_password(session=session, user=user, password=body.new_password)
    return _token(settings, user)


@router.delete(
    "/me",
    response_model=Message,
    operation_id="auth_delete_me",
    responses={400: {"model": Message}, 401: {"model": Message}, 429: {"model": Message}},
)
def delete_me(
    body: AccountDeletion,
    request: Request,
    throttles: ThrottlesDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Message:
    """Delete the account with all its videos, uploads and reports.

    Local accounts confirm with their password.
    """
    if user.hashed_password is not None:
        _confirm_password(request, throttles, user, body.password or "", "the password is wrong")
    users_service.delete_user(session=session, settings=settings, user=user)
    return Message(detail="account deleted")


@router.get(
    "/me",
    response_model=UserPublic,
    operation_id="auth_me",
    responses={401: {"model": Message}},
)
def read_me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return UserPublic.model_validate(user)


@router.get("/config", response_model=AuthConfig, operation_id="auth_config")
def auth_config(settings: SettingsDep, oidc: OIDCDep) -> AuthConfig:
    """How to sign in here, and which uploads are accepted (size limit, video suffixes).

    Sign-in: local registration, and the external OIDC issuer if one is configured. The upload
    limit and the suffixes let a client refuse a too-large file or an obvious non-video before
    sending any of it.
    """
    config = None
    if oidc is not None:
        config = OIDCConfig(
            issuer=oidc.issuer,
            client_id=settings.oidc_client_id,
            audience=oidc.audience,
            authorization_endpoint=settings.oidc_authorization_endpoint
            or oidc.authorization_endpoint(),
            provider_name=settings.oidc_provider_name,
        )
    return AuthConfig(
        registration=settings.allow_registration,
        oidc=config,
        max_upload_bytes=settings.max_upload_bytes,
        video_suffixes=list(VIDEO_SUFFIXES),
    )
