"""The ``provenance`` section of a report: where a video says it came from (pydantic).

Two sources, kept apart because they deserve different trust: C2PA Content Credentials (a signed
manifest, checked by the C2PA library) and container metadata (tags any tool can write, shown as
hints only). Neither changes the detector's verdict; see :func:`decisive_ai_declaration` for the
one case the verdict text mentions.

This module imports nothing heavy: the report and the API schemas import it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CredentialsStatus = Literal[
    "absent", "valid", "untrusted_signer", "content_changed", "signature_invalid", "unreadable"
]

# IPTC digital source types that declare generative AI (short names, as in the report).
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidationCode(_Schema):
    """One validation status the C2PA library reported, in its own words."""

    code: str = Field(description='The C2PA status code, e.g. "assertion.bmffHash.mismatch"')
    kind: Literal["failure", "informational"]
    explanation: str | None = None


class Signer(_Schema):
    """Who signed the manifest, from the signing certificate."""

    subject: str | None = Field(default=None, description="Common name of the signing certificate")
    issuer: str | None = Field(default=None, description="Organisation that issued the certificate")
    serial_number: str | None = None
    algorithm: str | None = None


class ProvenanceAction(_Schema):
    """One action the manifest records (created, edited, ...)."""

    action: str = Field(description='The C2PA action, e.g. "c2pa.created"')
    digital_source_type: str | None = Field(
        default=None, description='IPTC short name, e.g. "trainedAlgorithmicMedia"'
    )
    software_agent: str | None = None
    when: str | None = None


class Ingredient(_Schema):
    """A file the signed video was made from."""

    title: str | None = None
    format: str | None = None
    relationship: str | None = Field(
        default=None, description='"parentOf", "componentOf" or "inputTo"'
    )
    has_credentials: bool = Field(description="The ingredient carried its own manifest")


class ContentCredentials(_Schema):
    """The C2PA manifest store of the file, as validated by the C2PA library."""

    status: CredentialsStatus = Field(
        description="absent: no manifest; valid: intact and signed by a trusted signer; "
        "untrusted_signer: intact, but the signer is not on the trust list; content_changed: "
        "the video was changed after signing; signature_invalid: the manifest or its signature "
        "does not verify; unreadable: the manifest could not be read (see reason)"
    )
    reason: str | None = Field(default=None, description="Why the manifest is unreadable, one line")
    validation_state: str | None = Field(
        default=None, description='The library\'s overall state: "Invalid", "Valid" or "Trusted"'
    )
    validation_codes: list[ValidationCode] = Field(default_factory=list)
    signer: Signer | None = None
    claim_generator: str | None = Field(
        default=None, description="The software that wrote the manifest"
    )
    signed_at: str | None = Field(
        default=None, description="Signing time from a trusted timestamp (absent without one)"
    )
    title: str | None = None
    actions: list[ProvenanceAction] = Field(default_factory=list)
    digital_source_types: list[str] = Field(default_factory=list)
    ingredients: list[Ingredient] = Field(default_factory=list)
    manifests: int = Field(default=0, description="Number of manifests in the store")
    declares_ai: bool = Field(
        default=False,
        description="A digitalSourceType says generative AI made (part of) the content: "
        + ", ".join(sorted(AI_SOURCE_TYPES)),
    )


class MetadataTag(_Schema):
    """One container or stream tag."""

    label: str = Field(description="What the tag means, in plain words")
    key: str = Field(description="The tag as stored in the file")
    value: str
    source: str = Field(description='"container" or the stream, e.g. "video stream 0"')


class ContainerMetadata(_Schema):
    """Tags of the container and its streams that matter for verification: hints, not proof."""

    status: Literal["read", "unreadable"]
    reason: str | None = None
    format: str | None = Field(
        default=None, description="The container format as the demuxer names it"
    )
    hints: list[MetadataTag] = Field(default_factory=list)
    location: list[MetadataTag] = Field(
        default_factory=list,
        description="Location tags: shown to the video's owner only, never logged",
    )


class Provenance(_Schema):
    """Where the video says it came from; beside the verdict, never folded into it."""

    summary: str = Field(description="What the Content Credentials say, in plain language")
    content_credentials: ContentCredentials
    container: ContainerMetadata


def decisive_ai_declaration(provenance: Provenance | None) -> bool:
    """A valid (trusted, intact) manifest declares AI generation: the only decisive case."""
    if provenance is None:
        return False
    credentials = provenance.content_credentials
    return credentials.status == "valid" and credentials.declares_ai


def _signed_by(credentials: ContentCredentials) -> str:
    signer = credentials.signer
    who = (signer.subject or signer.issuer) if signer else None
    text = f"Signed by {who or 'an unnamed signer'}"
    if credentials.claim_generator:
        text += f" with {credentials.claim_generator}"
    return text


def summarize(credentials: ContentCredentials) -> str:
    """Say in plain language what the Content Credentials mean for the reader."""
    ai = "; the signer says it was made with AI" if credentials.declares_ai else ""
    if credentials.status == "absent":
        return "No Content Credentials: most videos have none, so this proves nothing."
    if credentials.status == "unreadable":
        return f"Content Credentials unreadable: {credentials.reason or 'unknown reason'}."
    if credentials.status == "content_changed":
        return "Content Credentials present, but the video was changed after signing."
    if credentials.status == "signature_invalid":
        return (
            "Content Credentials present, but their signature does not verify, "
            "so nothing they say can be relied on."
        )
    if credentials.status == "untrusted_signer":
        return (
            f"{_signed_by(credentials)}{ai}. The signature is intact, but the signer is not on "
            "the trust list, so who signed cannot be confirmed."
        )
    return f"{_signed_by(credentials)}{ai}. The signature is valid and the signer is trusted."
