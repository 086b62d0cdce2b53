"""The API end to end with the real pipeline and a tiny random-weight model."""

from __future__ import annotations

import cv2
import numpy as np
from fastapi.testclient import TestClient

from deepverify.service.main import create_app
from deepverify.stages import DECODE, FACES, STAGES
from tests.service.conftest import sign_up, upload
from tests.service.test_videos_api import _events


def test_real_clip_end_to_end(make_settings, tiny_checkpoint, real_clip):
    settings = make_settings(model_path=tiny_checkpoint, num_frames=8, worker_concurrency=2)
    with TestClient(create_app(settings)) as client:
        headers = sign_up(client, "e2e@example.com")
        ready = client.get("/api/ready").json()
        video_id = upload(client, headers, real_clip.read_bytes(), name="talking head.mp4").json()[
            "id"
        ]
        events = _events(client, f"/api/videos/{video_id}/events", headers=headers)
        assert ready["database"] and ready["worker"]

        # An 8-frame job can finish before the stream's first poll, so the stages it shows may be
        # none; those it shows come in pipeline order, where decoding and face detection are one
        # step (they overlap, so their updates interleave). (That every stage is streamed is
        # pinned by test_events_stream_progress_until_done, whose analyzer waits for the stream.)
        assert events[0][0] == "progress"
        step = {stage: position for position, stage in enumerate(STAGES)} | {DECODE: 1}
        assert step[FACES] == 1
        stages = [data["stage"] for name, data in events if name == "progress" and data["stage"]]
        positions = [step[stage] for stage in stages]
        assert positions == sorted(positions), stages
        name, video = events[-1]
        assert name == "done" and video["status"] == "done", video.get("error")
        report = video["report"]
        # The tiny untrained model never decides; its two-class decision is still there.
        assert report["verdict"] == "INCONCLUSIVE" and 0 <= report["probability"] <= 1
        assert report["decision"] in ("REAL", "FAKE") and report["reasons"][0]["code"] == (
            "untrained_model"
        )
        assert (
            video["verdict"] == report["verdict"] and video["probability"] == report["probability"]
        )
        assert report["video"]["filename"] == "talking head.mp4"
        assert len(report["tracks"]) == 1 and len(report["frames"]) == 8

        page = client.get(video["report_html_url"], headers=headers).text
        assert "talking head.mp4" in page and "data:image/png;base64," in page
        heatmap = next(f["heatmap"] for fr in report["frames"] for f in fr["faces"])
        png = client.get(video["image_base_url"] + heatmap, headers=headers)
        image = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (64, 64) and image.std() > 5
        overlay = next(fr["overlay"] for fr in report["frames"] if fr["overlay"])
        assert client.get(video["image_base_url"] + overlay, headers=headers).status_code == 200
        assert client.get("/api/ready").json()["ready"] is True
