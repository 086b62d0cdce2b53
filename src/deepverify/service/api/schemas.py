"""Request and response bodies of the API (pydantic); Create and Public shapes kept apart.

These models are the contract the web UI is generated from (``/api/openapi.json``): rename
fields only together with the UI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from deepverify.report.schema import Report
from deepverify.service.core.emails import Email
from deepverify.service.core.models import JobStatus
from deepverify.stages import STAGES

_PROGRESS = f"fraction done (0 to 1) per stage, all listed from upload on: {', '.join(STAGES)}"


Password = Annotated[str, Field(min_length=8, max_length=256)]

# A job status (one of JobStatus's values), shown to the generated web client as a string enum
# inline, as before, rather than as a named schema that would change the client's types.
Status = Annotated[
    str,
    AfterValidator(lambda value: JobStatus(value).value),
    WithJsonSchema({"type": "string", "enum": [status.value for status in JobStatus]}),
]


class UserCreate(BaseModel):
    """A new local account."""

    email: Email
    password: Password


class PasswordChange(BaseModel):
    """A new password, proven by the current one."""

    current_password: str = Field(max_length=256)
    new_password: Password


class AccountDeletion(BaseModel):
    """Confirms deleting the account: the password (local accounts; ignored for external ones)."""

    password: str | None = Field(default=None, max_length=256)


class UserPublic(BaseModel):
    """An account as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    provider: str = Field(description='"local", or the issuer URL of an external sign-in')
    created_at: datetime


class Token(BaseModel):
    """An OAuth2 bearer access token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class OIDCConfig(BaseModel):
    """What the UI needs to start an external sign-in."""

    issuer: str
    client_id: str | None
    audience: str
    authorization_endpoint: str | None
    provider_name: str


class AuthConfig(BaseModel):
    """How users can sign in to this server, and what it accepts from them."""

    registration: bool
    oidc: OIDCConfig | None
    max_upload_bytes: int = Field(description="the largest video upload accepted, in bytes")
    video_suffixes: list[str] = Field(
        description="file name suffixes taken for videos (lower case, with the dot); the "
        "server decides by decoding, this only lets a client refuse an obvious non-video"
    )


class VideoAccepted(BaseModel):
    """An upload accepted for analysis (or the earlier one it duplicates)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    duplicate: bool = Field(False, description="true when an earlier identical upload is reused")


class VideoSummary(BaseModel):
    """A video in a listing: its job state and verdict, without the full report."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    size_bytes: int
    sha256: str
    status: Status
    stage: str | None
    error: str | None
    verdict: str | None
    probability: float | None
    created_at: datetime
    finished_at: datetime | None


class VideoPublic(VideoSummary):
    """A video with its progress per stage and, once done, the full report."""

    progress: dict[str, float] = Field(description=_PROGRESS)
    media: dict[str, Any]
    started_at: datetime | None
    updated_at: datetime
    report: Report | None = Field(description="the analysis report once the job is done")
    report_html_url: str | None
    image_base_url: str | None = Field(
        description="prefix of the report's image paths (heatmaps, crops, frames, timeline) "
        "once done"
    )


class VideosPublic(BaseModel):
    """One page of the caller's videos, newest first."""

    data: list[VideoSummary]
    count: int = Field(description="total number of the caller's videos")
    skip: int
    limit: int


class VideoEvent(BaseModel):
    """The payload of a Server-Sent Event from ``/api/videos/{id}/events``."""

    id: str
    status: str
    stage: str | None
    progress: dict[str, float] = Field(description=_PROGRESS)
    error: str | None
    verdict: str | None
    probability: float | None


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Readiness: the database and the object store answer, a worker runs, its model is loaded."""

    ready: bool
    database: bool
    storage: bool
    worker: bool
    model: bool
    mode: Literal["in-process", "celery"]
    detail: str | None = None


class Message(BaseModel):
    """An error or informational message."""

    detail: str
