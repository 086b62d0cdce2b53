"""The service's live sessions: URL guard (protocols, SSRF), limits, updates, stop, errors."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from deepverify.live.feed import FrameFeed
from deepverify.live.source import LiveSourceError
from deepverify.live.updates import LiveUpdate, TrackUpdate
from deepverify.service.core.settings import Settings
from deepverify.service.services.live import (
    LiveLimits,
    LiveRequestError,
    LiveSessions,
    TooManyLiveSessions,
    check_stream_url,
    limits_from,
)
from tests.live.test_updates import data_url_image


def _resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host: list(addresses)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "169.254.169.254", "::1",
     "fe80::1", "fc00::5", "0.0.0.0", "100.64.0.1", "224.0.0.1"],
)  # fmt: skip
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    with pytest.raises(LiveRequestError, match="may only watch public streams"):
        check_stream_url("rtsp://cam.example/s", allow_private=False, resolve=_resolver(address))


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(LiveRequestError, match=re.escape("10.0.0.1")):
        check_stream_url(
            "http://x.example/live.flv", allow_private=False,
            resolve=_resolver("93.184.216.34", "10.0.0.1"),
        )  # fmt: skip


def test_public_addresses_pass_and_an_administrator_may_allow_local_ones() -> None:
    url = "https://media.example/hls/index.m3u8"
    assert check_stream_url(url, allow_private=False, resolve=_resolver("93.184.216.34")) == url
    local = "rtsp://192.168.1.20/cam"
    assert check_stream_url(local, allow_private=True, resolve=_resolver("192.168.1.20")) == local
    # Literal addresses go through the same check (the system resolver returns them as given).
    with pytest.raises(LiveRequestError):
        check_stream_url("http://127.0.0.1:8000/x.flv", allow_private=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "unsupported protocol 'file'"),
        ("gopher://x.example/", "unsupported protocol 'gopher'"),
        ("/local/clip.mp4", "unsupported protocol '(none)'"),
        ("rtmp:///app/stream", "names no host"),
    ],
)
def test_protocols_and_hosts_are_checked(url: str, message: str) -> None:
    with pytest.raises(LiveRequestError, match=re.escape(message)):
        check_stream_url(url, allow_private=False, resolve=_resolver("93.184.216.34"))


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(LiveRequestError, match="does not resolve"):
        check_stream_url("rtsp://nowhere.invalid/s", allow_private=False, resolve=_resolver())


def _update(seq: int) -> LiveUpdate:
    return LiveUpdate(
        seq=seq, elapsed_s=float(seq), stream_time_s=float(seq), verdict="INCONCLUSIVE",
        probability=0.5, reasons=(), tracks=(), frame_indices=(seq,), frame_lags_s=(0.1,),
        fps=4.0, frames_sampled=seq, frames_dropped=0, reconnects=0,
    )  # fmt: skip


class _Runner:
    """Stands in for run_live: an update every 50 ms until stopped (or fails when told)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.max_seconds: list[float] = []

    def __call__(self, url: str, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
        self.max_seconds.append(max_seconds)
        seq = 0
        while not stop.wait(0.05):
            seq += 1
            if self.fail_after is not None and seq > self.fail_after:
                raise LiveSourceError(f"{url}: no frame for 30 s (the stream ended)")
            yield _update(seq)


PUBLIC = _resolver("93.184.216.34")


def _limits(**changes: Any) -> LiveLimits:
    return dataclasses.replace(limits_from(Settings()), **changes)


def test_limits_per_user_and_in_all_answer_clearly() -> None:
    runner = _Runner()
    sessions = LiveSessions(_limits(max_sessions=2, max_per_user=1, max_seconds=60), runner)
    first = sessions.start(owner="ann", url="rtsp://a.example/1", resolve=PUBLIC)
    with pytest.raises(TooManyLiveSessions, match="you already run 1 live session"):
        sessions.start(owner="ann", url="rtsp://a.example/2", resolve=PUBLIC)
    sessions.start(owner="bob", url="rtsp://a.example/3", resolve=PUBLIC)
    with pytest.raises(TooManyLiveSessions, match="maximum of 2 live sessions"):
        sessions.start(owner="cy", url="rtsp://a.example/4", resolve=PUBLIC)
    assert runner.max_seconds == [60, 60]  # the maximum session length reaches the runner
    # A stopped session frees its place.
    assert sessions.stop(first.session_id, "ann")
    deadline = time.monotonic() + 5
    while not first.done and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.done and first.error is None
    sessions.start(owner="cy", url="rtsp://a.example/4", resolve=PUBLIC)
    sessions.stop_all()


def test_updates_reach_listeners_and_only_the_owner_sees_a_session() -> None:
    sessions = LiveSessions(_limits(), _Runner())
    state = sessions.start(owner="ann", url="rtsp://user:pw@a.example/1", resolve=PUBLIC)
    assert state.source == "rtsp://a.example/1"  # no credentials kept
    assert sessions.get(state.session_id, "bob") is None
    assert not sessions.stop(state.session_id, "bob")
    got = sessions.wait(state, after=0, timeout=5.0)
    assert got and got[0].seq == 1
    later = sessions.wait(state, after=got[-1].seq, timeout=5.0)
    assert later and later[0].seq == got[-1].seq + 1
    sessions.stop_all()


def test_a_failed_stream_ends_the_session_with_its_reason() -> None:
    sessions = LiveSessions(_limits(), _Runner(fail_after=2))
    state = sessions.start(owner="ann", url="rtsp://a.example/1", resolve=PUBLIC)
    deadline = time.monotonic() + 5
    while not state.done and time.monotonic() < deadline:
        sessions.wait(state, after=state.seq, timeout=0.5)
    assert state.done
    assert state.error == "rtsp://a.example/1: no frame for 30 s (the stream ended)"
    assert [u.seq for u in state.updates] == [1, 2]


def _stubborn(url: object, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
    """A session whose every step takes 0.3 s whatever ``stop`` says (a frame in the model)."""
    seq = 0
    while not stop.is_set():
        time.sleep(0.3)
        seq += 1
        yield _update(seq)


def test_stop_all_waits_for_every_session_thread() -> None:
    sessions = LiveSessions(_limits(max_per_user=2), _stubborn, _stubborn)
    url = sessions.start(owner="ann", url="rtsp://a.example/1", resolve=PUBLIC)
    camera = sessions.start_feed(owner="ann", feed=FrameFeed(fps=4.0), source="camera")
    for state in (url, camera):
        assert sessions.wait(state, after=0, timeout=5.0)
    sessions.stop_all()
    # None is left inside the model when the process exits (that aborts it).
    assert [s.thread is not None and s.thread.is_alive() for s in (url, camera)] == [False] * 2
    assert url.done and camera.done and sessions.running() == 0


def test_listeners_get_each_face_heatmap_in_json_made_once() -> None:
    picture = np.full((64, 64, 3), (200, 30, 30), np.uint8)
    face = TrackUpdate(
        track_id=0, probability=0.4, verdict="REAL", reasons=(), frames=4,
        box=(1.0, 2.0, 3.0, 4.0), latest_frame=7, heatmap=picture,
    )  # fmt: skip

    def runner(url: str, max_seconds: float, stop: threading.Event) -> Iterator[LiveUpdate]:
        yield dataclasses.replace(_update(1), tracks=(face,))
        stop.wait()

    sessions = LiveSessions(_limits(), runner)
    state = sessions.start(owner="ann", url="rtsp://a.example/1", resolve=PUBLIC)
    [kept] = sessions.wait_kept(state, after=0, timeout=5.0)
    sent = data_url_image(json.loads(kept.json)["tracks"][0]["heatmap"])
    assert sent.shape == (64, 64, 3) and np.abs(sent.astype(int) - picture).mean() < 8
    assert kept.update.tracks[0].heatmap is None  # the picture is not kept a second time
    sessions.stop_all()
