"""``/api/auth``: local registration and sign-in, the current user, sign-in options for the UI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from deepverify.defaults import VIDEO_SUFFIXES
from deepverify.service.deps import CurrentUser, SessionDep, SettingsDep
from deepverify.service.schemas import (
    AuthConfig,
    Message,
    OIDCConfig,
    Token,
    UserCreate,
    UserPublic,
    normalise_email,
)
from deepverify.service.security import create_token
from deepverify.service.services import users as users_service

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    operation_id="auth_register",
    responses={403: {"model": Message}, 409: {"model": Message}},
)
def register(body: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    """Create a local account (e-mail and password, at least 8 characters)."""
    if not settings.allow_registration:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "registration is disabled on this server")
    try:
        user = users_service.create_local_user(
            session=session, email=body.email, password=body.password
        )
    except users_service.EmailTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return UserPublic.model_validate(user)


@router.post(
    "/login",
    response_model=Token,
    operation_id="auth_login",
    responses={401: {"model": Message}},
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: ``username`` (the e-mail) and ``password`` -> a bearer token."""
    user = users_service.authenticate(
        session=session, email=normalise_email(form.username), password=form.password
    )
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong e-mail or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = create_token(settings=settings, user_id=user.id)
    return Token(access_token=token, expires_in=settings.access_token_expire_minutes * 60)


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
def auth_config(request: Request, settings: SettingsDep) -> AuthConfig:
    """How to sign in here, and which uploads are accepted (size limit, video suffixes).

    Sign-in: local registration, and the external OIDC issuer if one is configured. The upload
    limit and the suffixes let a client refuse a too-large file or an obvious non-video before
    sending any of it.
    """
    oidc = request.app.state.oidc
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
