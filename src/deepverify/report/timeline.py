"""The report's timeline plot: each track's per-frame probability over time, and the threshold.

Drawn with OpenCV (already loaded by every scan) rather than matplotlib, whose import alone costs
a scan about a second of CPU and tens of MB; the plot is a few lines, markers and labels.
"""

from __future__ import annotations

import math

import numpy as np

from deepverify.report.schema import Report

WIDTH, HEIGHT = 800, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 14, 12, 44  # margins around the plot area, pixels
# matplotlib's "tab10" colours (RGB), one per track, cycling.
TRACK_COLOURS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip
THRESHOLD_COLOUR = (220, 20, 60)  # crimson
_INK = (38, 38, 38)
_GRID = (232, 232, 232)
_FONT_SCALE = 0.42


def nice_step(span: float, most: int = 8) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving at most ``most`` intervals."""
    raw = max(span, 1e-9) / most
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def _series(report: Report) -> dict[int, list[tuple[float, float]]]:
    series: dict[int, list[tuple[float, float]]] = {}
    for frame in report.frames:
        for face in frame.faces:
            series.setdefault(face.track_id, []).append((frame.timestamp, face.fake_probability))
    return dict(sorted(series.items()))


def timeline_png(report: Report) -> bytes:
    """Plot each track's per-frame probability over time, with the threshold (PNG bytes)."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    x0, x1, y0, y1 = _LEFT, WIDTH - _RIGHT, HEIGHT - _BOTTOM, _TOP  # y0 is the bottom
    duration = max(report.video.duration_s, 1e-3)

    def px(t: float, p: float) -> tuple[int, int]:
        return round(x0 + (x1 - x0) * t / duration), round(y0 - (y0 - y1) * p)

    def text(label: str, at: tuple[int, int], *, anchor: str = "centre") -> None:
        (w, h), _ = cv2.getTextSize(label, font, _FONT_SCALE, 1)
        x = {"centre": at[0] - w // 2, "right": at[0] - w, "left": at[0]}[anchor]
        cv2.putText(image, label, (x, at[1] + h // 2), font, _FONT_SCALE, _INK, 1, cv2.LINE_AA)

    for k in range(6):  # probability ticks 0, 0.2, ..., 1
        p = k / 5
        _, y = px(0.0, p)
        cv2.line(image, (x0, y), (x1, y), _GRID, 1)
        cv2.line(image, (x0 - 4, y), (x0, y), _INK, 1)
        text(f"{p:.1f}", (x0 - 7, y), anchor="right")
    step = nice_step(duration)
    for k in range(int(duration / step + 1e-9) + 1):
        t = k * step
        x, _ = px(t, 0.0)
        cv2.line(image, (x, y0), (x, y0 + 4), _INK, 1)
        text(f"{t:g}", (x, y0 + 13))
    text("time (s)", ((x0 + x1) // 2, HEIGHT - 12))
    _vertical_label(image, "P(fake) per frame", centre=(14, (y0 + y1) // 2))

    _, threshold_y = px(0.0, report.threshold)
    for start in range(x0, x1, 10):  # dashed; horizontal, so no antialiasing needed
        cv2.line(image, (start, threshold_y), (min(start + 6, x1), threshold_y), THRESHOLD_COLOUR)
    legend: list[tuple[str, tuple[int, int, int]]] = []
    for n, (track_id, points) in enumerate(_series(report).items()):
        colour = TRACK_COLOURS[n % len(TRACK_COLOURS)]
        pixels = np.array([px(t, p) for t, p in points], np.int32)
        cv2.polylines(image, [pixels], False, colour, 2, cv2.LINE_AA)
        for point in pixels:
            cv2.circle(image, (int(point[0]), int(point[1])), 3, colour, -1, cv2.LINE_AA)
        legend.append((f"track {track_id}", colour))
    legend.append(("threshold", THRESHOLD_COLOUR))
    cv2.rectangle(image, (x0, y1), (x1, y0), _INK, 1)
    _legend(image, legend, top_right=(x1 - 6, y1 + 6))
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the timeline plot")
    return png.tobytes()


def _vertical_label(image: np.ndarray, label: str, *, centre: tuple[int, int]) -> None:
    """Write ``label`` bottom to top, centred on ``centre``."""
    import cv2

    (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)
    strip = np.full((h + base + 2, w + 2, 3), 255, np.uint8)
    cv2.putText(strip, label, (1, h + 1), cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, _INK, 1,
                cv2.LINE_AA)  # fmt: skip
    turned = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    top = max(0, centre[1] - turned.shape[0] // 2)
    left = max(0, centre[0] - turned.shape[1] // 2)
    region = image[top : top + turned.shape[0], left : left + turned.shape[1]]
    region[...] = np.minimum(region, turned[: region.shape[0], : region.shape[1]])


def _legend(
    image: np.ndarray,
    entries: list[tuple[str, tuple[int, int, int]]],
    *,
    top_right: tuple[int, int],
) -> None:
    """A boxed legend, one coloured line and label per entry, anchored at its top right."""
    import cv2

    font, row = cv2.FONT_HERSHEY_SIMPLEX, 15
    width = 34 + max(cv2.getTextSize(label, font, _FONT_SCALE, 1)[0][0] for label, _ in entries)
    right, top = top_right
    left, bottom = right - width, top + row * len(entries) + 6
    cv2.rectangle(image, (left, top), (right, bottom), (255, 255, 255), -1)
    cv2.rectangle(image, (left, top), (right, bottom), (200, 200, 200), 1)
    for n, (label, colour) in enumerate(entries):
        y = top + 11 + row * n
        cv2.line(image, (left + 6, y), (left + 24, y), colour, 2, cv2.LINE_AA)
        cv2.putText(image, label, (left + 30, y + 4), font, _FONT_SCALE, _INK, 1, cv2.LINE_AA)
