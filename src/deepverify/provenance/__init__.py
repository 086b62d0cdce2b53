"""Provenance beside the verdict: C2PA Content Credentials and container metadata.

:func:`read_provenance` is the entry point the pipeline, the ``deepverify provenance`` command
and the benchmark call. It never raises for a bad manifest or bad tags: those sections say
"unreadable" with a reason, and the analysis goes on.
"""

from __future__ import annotations

from pathlib import Path

from deepverify.provenance.container import read_container_metadata
from deepverify.provenance.credentials import read_credentials, trust_anchors_from_env
from deepverify.provenance.schema import (
    ContentCredentials,
    Provenance,
    decisive_ai_declaration,
    summarize,
)

__all__ = ["Provenance", "decisive_ai_declaration", "read_provenance"]


def read_provenance(path: Path, *, trust_anchors: str | None = None) -> Provenance:
    """Read the Content Credentials and container tags of a video.

    Args:
        path: The video file.
        trust_anchors: PEM root certificates whose signers count as trusted; by default the
            bundle named by ``DEEPVERIFY_C2PA_TRUST_ANCHORS`` (none when unset).

    Raises:
        ConfigError: ``DEEPVERIFY_C2PA_TRUST_ANCHORS`` names a file that cannot be read (a
            misconfiguration, not a property of the video).
    """
    path = Path(path)
    anchors = trust_anchors if trust_anchors is not None else trust_anchors_from_env()
    credentials: ContentCredentials = read_credentials(path, trust_anchors=anchors)
    return Provenance(
        summary=summarize(credentials),
        content_credentials=credentials,
        container=read_container_metadata(path),
    )
