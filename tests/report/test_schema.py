"""The report's one list of its image files, and the HTML page that embeds from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepverify.report.output import write_image
from deepverify.report.render import render_html
from deepverify.report.schema import FaceObservation, FrameResult, Report, TrackResult
from tests.report.test_timeline import _report


def _with_images(report: Report) -> Report:
    """Frame 0 with two faces and both frame images, frame 1 with a face and no images."""
    face = report.frames[0].faces[0]
    frames = [
        FrameResult(
            position=0, index=0, timestamp=0.25, overlay="frames/frame_000.jpg",
            image="frames/plain_000.jpg",
            faces=[
                face.model_copy(update={"heatmap": "heatmaps/t0.jpg", "crop": "crops/t0.jpg"}),
                FaceObservation(track_id=1, box=(20, 0, 30, 10), detection_score=0.8,
                                fake_probability=0.9, heatmap="heatmaps/t1.jpg"),
            ],
        ),
        FrameResult(position=1, index=15, timestamp=0.75, faces=[face]),
    ]  # fmt: skip
    tracks = [
        TrackResult(track_id=k, probability=0.5, frames=1, first_timestamp=0.25,
                    last_timestamp=0.75, median_face_px=10.0)
        for k in (0, 1)
    ]  # fmt: skip
    return report.model_copy(
        update={"frames": frames, "tracks": tracks, "timeline_plot": "timeline.png"}
    )


def test_image_paths_names_every_image_once() -> None:
    report = _with_images(_report({0: 0.2}, 0.5))
    assert report.image_paths() == [
        "timeline.png",
        "frames/frame_000.jpg",
        "frames/plain_000.jpg",
        "heatmaps/t0.jpg",
        "crops/t0.jpg",
        "heatmaps/t1.jpg",
    ]
    assert _report({0: 0.2}, 0.5).image_paths() == []
    # A report read back from JSON names the same files.
    assert Report.model_validate_json(report.to_json()).image_paths() == report.image_paths()


def test_the_page_embeds_only_images_the_report_names(tmp_path: Path) -> None:
    report = _with_images(_report({0: 0.2}, 0.5))
    pixel = np.full((8, 8, 3), 128, np.uint8)
    for rel in [*report.image_paths()[1:], "heatmaps/stray.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write_image(tmp_path / rel, pixel)
    html = render_html(report, tmp_path)
    # Two heatmaps and the key frame's overlay; not the stray file, nor the plain images.
    assert html.count("data:image/jpeg;base64,") == 3
    # The timeline plot is not on disk: the page draws it.
    assert html.count("data:image/png;base64,") == 1
    (tmp_path / "heatmaps" / "t1.jpg").unlink()
    assert render_html(report, tmp_path).count("data:image/jpeg;base64,") == 2
    stray = report.model_copy(update={"frames": [
        report.frames[0].model_copy(update={"faces": [
            report.frames[0].faces[0].model_copy(update={"heatmap": "heatmaps/stray.jpg"})
        ]})
    ]})  # fmt: skip
    assert "heatmaps/stray.jpg" in stray.image_paths()
    assert render_html(stray, tmp_path).count("data:image/jpeg;base64,") == 2
