"""One model per service process: live sessions and file jobs share it, detectors are per thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import deepverify.engine
import deepverify.live.session
from deepverify.engine import Engine, load_engine
from deepverify.scoring import score_faces
from deepverify.service.core.settings import Settings
from deepverify.service.jobs.analysis import PipelineAnalyzer, ServiceModel
from deepverify.service.main import create_app
from deepverify.service.services.live import LiveSessions, limits_from, pipeline_runner
from tests.live.conftest import Sender, free_port
from tests.live.sender import short_gop_copy
from tests.service.conftest import sign_up, upload, wait_until


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Engine]:
    """Every engine :func:`deepverify.engine.load_engine` loads from now on."""
    loaded: list[Engine] = []

    def counting(*args: Any, **kwargs: Any) -> Engine:
        engine = load_engine(*args, **kwargs)
        loaded.append(engine)
        return engine

    monkeypatch.setattr(deepverify.engine, "load_engine", counting)
    return loaded


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, object]]:
    """The ``(model, detector)`` each live session runs with."""
    seen: list[tuple[object, object]] = []
    real = deepverify.live.session.run_live

    def recording(source: str, *, model: Any, detector: Any, **kwargs: Any) -> Iterator[Any]:
        seen.append((model, detector))
        return real(source, model=model, detector=detector, **kwargs)

    monkeypatch.setattr(deepverify.live.session, "run_live", recording)
    return seen


@pytest.fixture
def stream(real_clip: Path, tmp_path: Path) -> Iterator[Sender]:
    sender = Sender(short_gop_copy(real_clip, tmp_path / "clip.mp4", seconds=4), free_port())
    sender.start()
    yield sender
    sender.kill()


def test_two_live_sessions_and_a_file_analyzer_share_one_model(
    make_settings: Callable[..., Settings],
    tiny_checkpoint: Path,
    stream: Sender,
    loads: list[Engine],
    judged: list[tuple[object, object]],
) -> None:
    settings = make_settings(
        model_path=tiny_checkpoint, detector="opencv-ssd", live_allow_private_addresses=True
    )
    shared = ServiceModel(settings)
    sessions = LiveSessions(limits_from(settings), pipeline_runner(shared))
    states = [sessions.start(owner=owner, url=stream.url) for owner in ("ann", "bob")]
    try:
        for state in states:  # both judge at once: each sees its face tracked
            got: list[Any] = []
            while len(got) < 2 and not state.done:
                got += sessions.wait(state, after=got[-1].seq if got else 0, timeout=20.0)
            assert state.error is None and len(got) >= 2, state.error
            assert got[-1].tracks and got[-1].tracks[0].frames >= 2
        assert sessions.running() == 2
        analyzer = PipelineAnalyzer(settings, shared=shared)
    finally:
        sessions.stop_all()
    assert len(loads) == 1  # one engine for the process
    (model_a, detector_a), (model_b, detector_b) = judged
    assert model_a is model_b is analyzer.model is loads[0]
    # OpenCV DNN's networks are not thread-safe: every thread has a detector of its own.
    assert len({id(detector_a), id(detector_b), id(analyzer.detector)}) == 3


def test_a_shared_engine_scores_and_explains_from_many_threads_as_from_one(
    tiny_checkpoint: Path, real_face_crops: list[np.ndarray]
) -> None:
    import cv2

    model = load_engine(tiny_checkpoint)
    size = model.card.input_size
    crops = [cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in real_face_crops]
    # Each thread scores its own crops (a different face size per thread), many times over.
    batches = [crops[k : k + 1 + k % 3] for k in range(6)]
    alone = [score_faces(model, batch, explain=True) for batch in batches]
    together: list[list[Any]] = [[] for _ in batches]
    start = threading.Barrier(len(batches))

    def work(k: int) -> None:
        start.wait()
        for _ in range(10):
            together[k].append(score_faces(model, batches[k], explain=True))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for one, runs in zip(alone, together, strict=True):
        assert len(runs) == 10
        for run in runs:
            np.testing.assert_allclose(run.frame_logits, one.frame_logits, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(run.features, one.features, rtol=1e-5, atol=1e-6)
            assert run.cams is not None and one.cams is not None
            np.testing.assert_allclose(run.cams, one.cams, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_file_job_completes_while_live_sessions_run(
    make_settings: Callable[..., Settings],
    tiny_checkpoint: Path,
    real_clip: Path,
    stream: Sender,
    loads: list[Engine],
) -> None:
    settings = make_settings(
        model_path=tiny_checkpoint, detector="opencv-ssd", num_frames=8,
        live_allow_private_addresses=True,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:  # the real pipeline in the worker
        users = [sign_up(client, f"{name}@example.org") for name in ("ann", "bob", "cy")]
        sessions = []
        for headers in users[:2]:
            started = client.post("/api/live", json={"url": stream.url}, headers=headers)
            assert started.status_code == 201, started.text
            sessions.append((f"/api/live/{started.json()['id']}", headers))

        def updates() -> list[int]:
            states = [client.get(url, headers=headers).json() for url, headers in sessions]
            assert not any(state["done"] for state in states), states
            return [state["updates"] for state in states]

        assert wait_until(lambda: min(updates()) >= 1, timeout=60)
        video_id = upload(client, users[2], real_clip.read_bytes()).json()["id"]
        video: dict[str, Any] = {}

        def finished() -> bool:
            video.update(client.get(f"/api/videos/{video_id}", headers=users[2]).json())
            return video["status"] in ("done", "failed")

        assert wait_until(finished, timeout=240, interval=0.2)
        # The job ran while both sessions did: they are still running, and go on updating.
        during = updates()
        assert video["status"] == "done", video.get("error")
        assert video["verdict"] == "INCONCLUSIVE"  # the tiny model is untrained
        assert len(video["report"]["frames"]) == 8 and video["report"]["tracks"]

        def more() -> int:
            return min(now - then for now, then in zip(updates(), during, strict=True))

        assert wait_until(lambda: more() >= 2, timeout=60)
        for url, headers in sessions:
            client.delete(url, headers=headers)
    assert len(loads) == 1  # the worker and both sessions on one model


def test_a_celery_worker_process_loads_one_model_for_its_pool_threads(
    make_settings: Callable[..., Settings], tiny_checkpoint: Path, loads: list[Engine]
) -> None:
    from deepverify.service.jobs.celery_app import WorkerResources

    resources = WorkerResources(make_settings(model_path=tiny_checkpoint, detector="opencv-ssd"))
    analyzers: list[PipelineAnalyzer] = []
    threads = [threading.Thread(target=lambda: analyzers.append(resources.analyzer()))
               for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(analyzers) == 3
    assert all(a.model is loads[0] for a in analyzers)
    assert len({id(a.detector) for a in analyzers}) == 3
    assert resources.analyzer() is resources.analyzer()  # one per thread, kept
