"""``deepverify live``: judge a stream (or a file played at its real speed) as it plays."""

from __future__ import annotations

import itertools
import json
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from deepverify.cli.common import console, err_console, setup_logging, user_errors
from deepverify.cli.options import (
    DeviceOption,
    EngineOption,
    JsonOption,
    ModelOption,
    VerboseOption,
)
from deepverify.cli.scoring import DetectorOption, load_for_scoring
from deepverify.live.options import (
    DEFAULT_FPS,
    DEFAULT_UPDATE_EVERY_S,
    DEFAULT_WINDOW,
    LiveOptions,
    SourceOptions,
)

if TYPE_CHECKING:
    from deepverify.live.updates import LiveUpdate

_COLOURS = {"FAKE": "bold white on red", "REAL": "bold white on green",
            "INCONCLUSIVE": "bold black on yellow"}  # fmt: skip
_BARS = " ▁▂▃▄▅▆▇█"
_HISTORY = 40


def _spark(values: deque[float]) -> str:
    """Probabilities as a bar per update, oldest first."""
    return "".join(_BARS[min(len(_BARS) - 1, int(v * (len(_BARS) - 1) + 0.5))] for v in values)


class _Display:
    """What the terminal shows: the window's verdict, each face's probability over time, lag."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.history: dict[int, deque[float]] = {}

    def render(self, update: LiveUpdate) -> Group:
        for track in update.tracks:
            self.history.setdefault(track.track_id, deque(maxlen=_HISTORY)).append(
                track.probability
            )
        prob = "" if update.probability is None else f"  P(fake) {update.probability:.0%}"
        head = Text.assemble(
            (f" {update.verdict} ", _COLOURS[update.verdict]),
            f"{prob}  stream {update.stream_time_s:.1f}s  lag {update.lag_s:.2f}s  "
            f"{update.fps:.1f} fps  dropped {update.frames_dropped}/{update.frames_sampled}"
            + (f"  reconnects {update.reconnects}" if update.reconnects else ""),
        )
        table = Table("face", "verdict", "P(fake)", f"last {_HISTORY} updates", "frames")
        for track in update.tracks:
            table.add_row(
                str(track.track_id), track.verdict, f"{track.probability:.1%}",
                _spark(self.history[track.track_id]), str(track.frames),
            )  # fmt: skip
        lines: list[Text | Table] = [Text(self.source, style="dim"), head, table]
        lines += [Text(f"  - {reason}") for reason in update.reasons]
        return Group(*lines)


def live(
    source: Annotated[
        str,
        typer.Argument(
            help="A stream URL (rtsp, rtmp, http(s) incl. HLS and HTTP-FLV, srt, "
            "udp) or a video file, played at its real speed."
        ),
    ],
    fps: Annotated[
        float, typer.Option(min=0.1, max=30.0, help="Frames sampled per second.")
    ] = DEFAULT_FPS,
    window: Annotated[
        int, typer.Option(min=1, max=256, help="Sampled frames judged together (the last ones).")
    ] = DEFAULT_WINDOW,
    update_every: Annotated[
        float, typer.Option(min=0.1, help="Seconds between updates.")
    ] = DEFAULT_UPDATE_EVERY_S,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds.")
    ] = None,
    open_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the source to answer.")
    ] = 10.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write a session report (timeline, flagged moments "
            "with heatmaps) into this folder.",
        ),
    ] = None,
    as_json: JsonOption = False,
    detector: DetectorOption = None,
    model: ModelOption = None,
    engine: EngineOption = None,
    device: DeviceOption = "cpu",
    verbose: VerboseOption = False,
) -> None:
    """Judge a live stream's faces as it plays, with a verdict every second; Ctrl-C stops."""
    setup_logging(verbose)
    with user_errors():
        from deepverify.faces import create_detector
        from deepverify.live.record import SessionRecord
        from deepverify.live.session import run_live
        from deepverify.live.source import describe

        loaded, face_detector = load_for_scoring(
            model, engine=engine, device=device, detector=detector
        )
        options = LiveOptions(
            fps=fps, window=window, update_every_s=update_every, duration_s=duration,
            explain=out is not None,
            source=SourceOptions(open_timeout_s=open_timeout, read_timeout_s=open_timeout),
        )  # fmt: skip
        settings = {"fps": fps, "window": window, "update_every_s": update_every}
        name = describe(source)
        record = (
            SessionRecord(out, source=name, card=loaded.card, settings=settings)
            if out is not None
            else None
        )
        updates = run_live(
            source, model=loaded, detector=create_detector(face_detector), options=options
        )
        display = _Display(name)
        try:
            with err_console.status(f"opening {name}…"):
                first = next(updates, None)  # the source opens, or its error is raised here
            with _Quiet() if as_json else Live(console=err_console, auto_refresh=False) as screen:
                for update in itertools.chain([first] if first else [], updates):
                    if record is not None:
                        record.add(update)
                    if as_json:
                        sys.stdout.write(json.dumps(update.to_dict()) + "\n")
                        sys.stdout.flush()
                    else:
                        screen.update(display.render(update), refresh=True)
        except KeyboardInterrupt:
            err_console.print("stopped", style="dim")
        finally:
            updates.close()
            if record is not None:
                path = record.close()
                if not as_json:
                    console.print(f"session report: {path}")


class _Quiet:
    """Stands in for the live display with ``--json`` (stdout carries the updates)."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, renderable: object, *, refresh: bool = False) -> None:
        """Show nothing."""
