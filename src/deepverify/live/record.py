"""The report of a live session: its timeline and its flagged moments, with their heatmaps.

Written into a folder as the session goes: each flagged face's heatmap at once (``flagged/``),
``session.json`` when the session ends (:meth:`SessionRecord.close`, also on Ctrl-C).

A moment is flagged when a face's probability reaches the card's threshold: the two-class
decision says FAKE there (``scan`` reports that decision beside its verdict), whether or not the
evidence gates let the verdict say so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from deepverify.live.updates import LiveUpdate
from deepverify.model import ModelCard
from deepverify.report.output import write_image

SESSION_JSON = "session.json"
FLAGGED_DIR = "flagged"


class SessionRecord:
    """Collects a session's updates and writes its report into ``folder``.

    Use as a context manager: leaving it (normally, on an error or on Ctrl-C) writes
    ``session.json``.
    """

    def __init__(self, folder: Path, *, source: str, card: ModelCard, settings: dict[str, Any]):
        """Create ``folder`` (and ``flagged/`` in it).

        Args:
            folder: Where the report goes.
            source: The source as shown (no credentials).
            card: The model's card (identity and threshold).
            settings: How the session sampled (fps, window, update rate), recorded as given.
        """
        self.folder = folder
        (folder / FLAGGED_DIR).mkdir(parents=True, exist_ok=True)
        self.card = card
        self._head = {
            "source": source,
            "model_id": card.model_id,
            "threshold": card.threshold,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings,
        }
        self.timeline: list[dict[str, Any]] = []
        self.flagged: list[dict[str, Any]] = []

    def add(self, update: LiveUpdate) -> None:
        """Record one update; write the heatmaps of its flagged faces."""
        self.timeline.append(update.to_dict())
        for track in update.tracks:
            if track.probability < self.card.threshold:
                continue
            moment: dict[str, Any] = {
                "seq": update.seq,
                "stream_time_s": round(update.stream_time_s, 3),
                "track_id": track.track_id,
                "probability": track.probability,
                "verdict": track.verdict,
                "heatmap": None,
            }
            if track.heatmap is not None:
                name = f"{FLAGGED_DIR}/update{update.seq:05d}_face{track.track_id}.jpg"
                write_image(self.folder / name, track.heatmap)
                moment["heatmap"] = name
            self.flagged.append(moment)

    def close(self) -> Path:
        """Write ``session.json``; its path."""
        path = self.folder / SESSION_JSON
        document = {
            **self._head,
            "ended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "updates": len(self.timeline),
            "flagged": self.flagged,
            "timeline": self.timeline,
        }
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        return path

    def __enter__(self) -> SessionRecord:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
