"""How a live session samples, judges and watches its source: plain settings, no heavy imports.

The CLI reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceOptions:
    """How a source is opened and watched.

    Attributes:
        open_timeout_s: Longest wait for a source to open.
        read_timeout_s: Longest wait for data once open.
        stall_s: The watchdog: with no decoded frame for this long, the stream is reopened.
        give_up_s: With no frame for this long (reopening included), the session ends with an
            error.
        speed: Play a local file at this multiple of its real speed (1: as a stream would
            come; the bench plays eval clips faster); a stream always comes at its own.
    """

    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    stall_s: float = 5.0
    give_up_s: float = 30.0
    speed: float = 1.0

    def __post_init__(self) -> None:
        if min(self.open_timeout_s, self.read_timeout_s, self.stall_s, self.speed) <= 0:
            raise ValueError("timeouts, stall_s and speed must be > 0")


DEFAULT_FPS = 4.0
DEFAULT_WINDOW = 16
DEFAULT_UPDATE_EVERY_S = 1.0


@dataclass(frozen=True)
class LiveOptions:
    """How a live session samples and judges.

    Attributes:
        fps: Frames sampled per second of stream time.
        window: Sampled frames judged together (the last ones).
        update_every_s: Seconds between updates.
        duration_s: Stop after this many seconds (None: until the source ends or is stopped).
        explain: Make the latest heatmap of each face.
        rescue_every_s: The face rescue pass (:mod:`deepverify.faces.rescue`) looks at most once
            this often at a frame where the detector finds no face (it costs about ten
            detections); 0 lets it look at every such frame, as ``scan`` does.
        source: How the source is opened and watched.
    """

    fps: float = DEFAULT_FPS
    window: int = DEFAULT_WINDOW
    update_every_s: float = DEFAULT_UPDATE_EVERY_S
    duration_s: float | None = None
    explain: bool = True
    rescue_every_s: float = 2.0
    source: SourceOptions = field(default_factory=SourceOptions)

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.update_every_s <= 0 or self.window < 1 or self.rescue_every_s < 0:
            raise ValueError(
                "fps and update_every_s must be > 0, window >= 1 and rescue_every_s >= 0"
            )
