"""Live updates as JSON: each face's heatmap as a small JPEG, sent only when it is new."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from deepverify.live.updates import (
    HEATMAP_SIDE,
    LiveUpdate,
    TrackUpdate,
    UpdateEncoder,
    heatmap_data_url,
)

DATA_URL_PREFIX = "data:image/jpeg;base64,"


def data_url_image(url: str) -> np.ndarray:
    """The RGB picture of a JPEG ``data:`` URL (what a browser would show)."""
    assert url.startswith(DATA_URL_PREFIX), url[:40]
    data = np.frombuffer(base64.b64decode(url.removeprefix(DATA_URL_PREFIX)), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _picture(side: int) -> np.ndarray:
    """Left half red, right half blue."""
    image = np.zeros((side, side, 3), np.uint8)
    image[:, : side // 2, 0] = 255
    image[:, side // 2 :, 2] = 255
    return image


def test_a_heatmap_becomes_a_small_jpeg_of_the_same_picture() -> None:
    shown = data_url_image(heatmap_data_url(_picture(224)))
    assert shown.shape == (HEATMAP_SIDE, HEATMAP_SIDE, 3)  # shrunk to the longest side
    left = shown[:, : HEATMAP_SIDE // 3].mean(axis=(0, 1))
    right = shown[:, -HEATMAP_SIDE // 3 :].mean(axis=(0, 1))
    assert left[0] > 200 and left[2] < 50 and right[2] > 200 and right[0] < 50
    assert data_url_image(heatmap_data_url(_picture(64))).shape == (64, 64, 3)  # never enlarged


def _track(track_id: int, latest_frame: int, heatmap: np.ndarray | None) -> TrackUpdate:
    return TrackUpdate(
        track_id=track_id, probability=0.4, verdict="REAL", reasons=(), frames=4,
        box=(1.0, 2.0, 3.0, 4.0), latest_frame=latest_frame, heatmap=heatmap,
    )  # fmt: skip


def _update(seq: int, *tracks: TrackUpdate) -> LiveUpdate:
    return LiveUpdate(
        seq=seq, elapsed_s=float(seq), stream_time_s=float(seq), verdict="REAL",
        probability=0.4, reasons=(), tracks=tracks, frame_indices=(seq,), frame_lags_s=(0.1,),
        fps=4.0, frames_sampled=seq, frames_dropped=0, reconnects=0,
    )  # fmt: skip


def test_a_face_heatmap_is_sent_when_the_face_has_a_newer_frame() -> None:
    red, blue = _picture(64), _picture(64)[:, ::-1].copy()
    encoder = UpdateEncoder()
    sent = [
        encoder.encode(update)
        for update in (
            _update(1, _track(0, 10, red), _track(1, 10, None)),
            _update(2, _track(0, 10, red)),  # no newer frame of face 0: nothing new to show
            _update(3, _track(0, 14, blue), _track(2, 14, red)),
            _update(4, _track(2, 14, red)),
            _update(5, _track(0, 15, red)),  # face 0 left the window: a new face for the client
        )
    ]
    carried = [[(t["track_id"], "heatmap" in t) for t in update["tracks"]] for update in sent]
    assert carried == [
        [(0, True), (1, False)],
        [(0, False)],
        [(0, True), (2, True)],
        [(2, False)],
        [(0, True)],
    ]
    # The newer picture is the one sent.
    assert data_url_image(sent[2]["tracks"][0]["heatmap"])[:, :16, 2].mean() > 200
    # The plain JSON (deepverify live --json) has no images.
    assert all("heatmap" not in t for t in _update(1, _track(0, 10, red)).to_dict()["tracks"])
