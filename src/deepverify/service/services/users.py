"""Account operations: local registration and sign-in, external users mapped on first sight."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deepverify.errors import DeepverifyError
from deepverify.service.core.models import LOCAL_PROVIDER, User, Video
from deepverify.service.core.security import hash_password, verify_password
from deepverify.service.core.settings import Settings
from deepverify.service.services import videos as videos_service


class EmailTakenError(DeepverifyError):
    """A local account with this e-mail already exists."""


def get_local_user(*, session: Session, email: str) -> User | None:
    """The local account with ``email``, if any."""
    return session.scalar(select(User).where(User.provider == LOCAL_PROVIDER, User.email == email))


def create_local_user(*, session: Session, email: str, password: str) -> User:
    """Create a local account with an argon2 password hash.

    Raises:
        EmailTakenError: the e-mail is already registered.
    """
    if get_local_user(session=session, email=email) is not None:
        raise EmailTakenError(f"an account with e-mail {email} already exists; sign in instead")
    user = User(provider=LOCAL_PROVIDER, email=email, hashed_password=hash_password(password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent registration won the race
        session.rollback()
        raise EmailTakenError(f"an account with e-mail {email} already exists") from exc
    return user


def change_password(*, session: Session, user: User, password: str) -> User:
    """Set a new password and revoke every token issued before (other sessions sign out)."""
    user = session.merge(user)
    user.hashed_password = hash_password(password)
    user.token_version += 1
    session.commit()
    return user


def revoke_tokens(*, session: Session, user: User) -> None:
    """Revoke every token issued to ``user`` so far (logout)."""
    session.execute(
        update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
    )
    session.commit()


def delete_user(*, session: Session, settings: Settings, user: User) -> None:
    """Delete the account, its videos and their files (running analyses stop: rows are gone)."""
    videos = session.scalars(select(Video).where(Video.owner_id == user.id)).all()
    for video in videos:
        videos_service.delete_video(session=session, settings=settings, video=video)
    session.execute(delete(User).where(User.id == user.id))
    session.commit()


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active local user whose password matches, else None (same work either way)."""
    user = get_local_user(session=session, email=email)
    hashed = user.hashed_password if user is not None else None
    if not verify_password(password, hashed) or user is None or not user.is_active:
        return None
    return user


def get_user(*, session: Session, user_id: str) -> User | None:
    """The active user with ``user_id``, if any."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def get_or_create_external_user(
    *, session: Session, issuer: str, subject: str, email: str | None
) -> User:
    """The local user for an external identity (issuer, subject), created on first sight.

    External identities are never merged into local accounts by e-mail: an issuer's e-mail claim
    is not proof of owning the local account.
    """
    query = select(User).where(User.provider == issuer, User.subject == subject)
    user = session.scalar(query)
    if user is not None:
        if email and user.email != email:
            user.email = email
            session.commit()
        return user
    user = User(provider=issuer, subject=subject, email=email, hashed_password=None)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # first requests of a new user racing each other
        session.rollback()
        existing = session.scalar(query)
        if existing is None:
            raise
        return existing
    return user
