"""Database tables (SQLAlchemy 2 declarative models).

The ``videos`` table is also the job queue: its ``status`` column is the source of truth for the
in-process worker and the Celery workers alike (see :mod:`deepverify.service.jobs.runner`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

LOCAL_PROVIDER = "local"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random, unguessable identifier (32 hex characters)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """An aware datetime in UTC (naive on SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """The stored value as an aware datetime in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JobStatus(enum.StrEnum):
    """Life cycle of an analysis job: queued -> running -> done | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


PENDING_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
"""A job waiting for or in analysis (what the per-user limit of pending jobs counts)."""
FINISHED_STATUSES = (JobStatus.DONE.value, JobStatus.FAILED.value)
"""The statuses a job never leaves."""


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class User(Base):
    """A local account (``provider == "local"``) or one mapped from an external OIDC issuer.

    An external identity is its (issuer, subject); its e-mail is an attribute that other
    subjects may share. Only local accounts are unique by e-mail.
    """

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_local_email",
            "email",
            unique=True,
            sqlite_where=text(f"provider = '{LOCAL_PROVIDER}'"),
            postgresql_where=text(f"provider = '{LOCAL_PROVIDER}'"),
        ),
        Index("uq_users_provider_subject", "provider", "subject", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(512), default=LOCAL_PROVIDER)
    subject: Mapped[str | None] = mapped_column(String(512))
    email: Mapped[str | None] = mapped_column(String(320))
    hashed_password: Mapped[str | None] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(default=True)
    # In every local token; raising it (logout, password change) revokes the tokens issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    videos: Mapped[list[Video]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )


class Video(Base):
    """An uploaded video and its analysis job."""

    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_owner_created", "owner_id", "created_at"),
        Index("ix_videos_owner_sha256", "owner_id", "sha256"),
        Index("ix_videos_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))  # sanitised, for display only
    content_type: Mapped[str | None] = mapped_column(String(255))  # as claimed by the client
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(64))  # generated; never from the client
    media: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # probed stream facts

    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    progress: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    stage: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[str | None] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship(back_populates="videos")
