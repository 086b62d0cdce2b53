"""Greedy IoU linking on synthetic detections."""

from __future__ import annotations

from deepverify.faces import Detection
from deepverify.faces.tracks import iou, link_tracks


def _det(x: float, y: float, size: float = 40.0) -> Detection:
    return Detection(box=(x, y, x + size, y + size), score=0.9, landmarks=None)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_one_person_one_track() -> None:
    frames = [[_det(100 + 3 * i, 50)] for i in range(10)]
    (track,) = link_tracks(frames)
    assert track.track_id == 0
    assert track.positions == tuple(range(10))
    assert track.detections == tuple(f[0] for f in frames)


def test_two_people_crossing_keep_their_tracks() -> None:
    # A walks right, B walks left; they cross mid-clip, on different rows (one slightly
    # in front), and each keeps the track whose last box overlaps it most.
    frames = []
    for i in range(11):
        a = _det(20 + 16 * i, 100)
        b = _det(180 - 16 * i, 112)
        frames.append([b, a] if i % 2 else [a, b])  # detector order must not matter
    tracks = link_tracks(frames)
    assert len(tracks) == 2
    first, second = tracks
    assert first.positions == second.positions == tuple(range(11))
    xs_first = [d.box[0] for d in first.detections]
    xs_second = [d.box[0] for d in second.detections]
    assert xs_first == sorted(xs_first) or xs_first == sorted(xs_first, reverse=True)
    assert {xs_first[0], xs_second[0]} == {20.0, 180.0}
    assert xs_first[-1] != xs_first[0] and xs_second[-1] != xs_second[0]
    assert sorted([xs_first[-1], xs_second[-1]]) == [20.0, 180.0]


def test_short_gap_bridged_long_gap_splits() -> None:
    frames: list[list[Detection]] = [[_det(100, 100)] for _ in range(12)]
    frames[3] = []
    frames[4] = []  # a 2-frame gap: bridged
    (track,) = link_tracks(frames)
    assert track.positions == (0, 1, 2, *range(5, 12))
    frames[6] = frames[7] = frames[8] = []  # then a 3-frame gap: a new track
    tracks = link_tracks(frames, max_gap=2)
    assert [t.positions for t in tracks] == [(0, 1, 2, 5), (9, 10, 11)]


def test_spurious_one_frame_detection_dropped_by_min_length() -> None:
    frames = [[_det(100, 100)] for _ in range(6)]
    frames[2] = [*frames[2], _det(400, 300, 20)]
    assert len(link_tracks(frames)) == 2
    (track,) = link_tracks(frames, min_length=2)
    assert track.positions == tuple(range(6))
    assert track.track_id == 0


def test_low_overlap_starts_new_track() -> None:
    frames = [[_det(0, 0)], [_det(35, 0)]]  # IoU 5/75 < 0.3
    assert [t.positions for t in link_tracks(frames)] == [(0,), (1,)]
    assert len(link_tracks(frames, iou_threshold=0.05)) == 1


def test_no_detections() -> None:
    assert link_tracks([[], [], []]) == []
    assert link_tracks([]) == []
