"""Clips from the cache: group splits, reproducible draws, fakes only where expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepverify.training.cache import ExtractSummary
from deepverify.training.clips import (
    ClipSpec,
    FixedClips,
    Preprocess,
    TrainClips,
    load_split_tracks,
    render_clip,
    validation_specs,
    window,
)
from deepverify.training.config import DataConfig
from deepverify.training.sbi import SBIConfig

PRE = Preprocess(input_size=48, crop_margin=0.3, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_window_stretches_short_tracks() -> None:
    assert window(10, 4, 3) == (3, 4, 5, 6)
    assert window(1, 4, 0) == (0, 0, 0, 0)
    assert window(3, 5, 0) == (0, 0, 1, 2, 2)


def test_split_tracks_keep_groups(face_cache: tuple[Path, ExtractSummary]) -> None:
    cache, _ = face_cache
    tracks, summary = load_split_tracks(cache, DataConfig(val_fraction=0.3))
    train_ids = {t.item_id for t in tracks["train"]}
    val_ids = {t.item_id for t in tracks["val"]}
    assert train_ids and val_ids and not train_ids & val_ids
    assert summary["train_groups"] + summary["val_groups"] == 5


def test_train_clips_reproducible_and_balanced(face_cache: tuple[Path, ExtractSummary]) -> None:
    cache, _ = face_cache
    data = DataConfig(val_fraction=0.0, clip_frames=3, clips_per_epoch=40, sbi_share=0.5)
    tracks, _ = load_split_tracks(cache, data)
    ds = TrainClips(tracks["train"], PRE, data, SBIConfig(), seed=1)
    clip, label = ds[0]
    assert clip.shape == (3, 3, 48, 48) and clip.dtype == torch.float32
    assert torch.equal(ds[0][0], clip) and float(ds[0][1]) == float(label)
    specs = [ds.spec(i) for i in range(40)]
    fakes = [s for s in specs if s.label == 1]
    assert 8 <= len(fakes) <= 32
    # Self-blended fakes come from real tracks; dataset fakes are used as they are.
    assert all((s.blend is None) == (s.track.label == 1) for s in fakes)
    assert any(s.track.label == 1 for s in fakes) and any(s.blend is not None for s in fakes)
    assert all(s.blend is None and s.track.label == 0 for s in specs if s.label == 0)
    ds.set_epoch(1)
    assert [ds.spec(i) for i in range(40)] != specs


def test_self_blend_changes_the_clip_only_inside(face_cache: tuple[Path, ExtractSummary]) -> None:
    cache, _ = face_cache
    data = DataConfig(val_fraction=0.0, clip_frames=2, val_clips_per_track=1)
    tracks, _ = load_split_tracks(cache, data)
    real = next(t for t in tracks["train"] if t.label == 0 and len(t.crops) > 1)
    specs = validation_specs([real], data, SBIConfig(blend_ratios=(1.0,)), seed=0)
    assert [s.label for s in specs] == [0, 1] and specs[1].blend is not None
    _, real_crops = render_clip(specs[0], PRE)
    _, fake_crops = render_clip(specs[1], PRE)
    diff = np.abs(real_crops[0].astype(int) - fake_crops[0].astype(int)).sum(axis=2)
    assert diff[18:30, 18:30].mean() > diff[:4, :].mean()
    assert diff.max() > 10
    fixed = FixedClips(specs, PRE)
    assert len(fixed) == 2 and torch.equal(fixed[1][0], FixedClips(specs, PRE)[1][0])


def test_flip_and_jpeg_applied(face_cache: tuple[Path, ExtractSummary]) -> None:
    cache, _ = face_cache
    tracks, _ = load_split_tracks(cache, DataConfig(val_fraction=0.0))
    track = tracks["train"][0]
    plain = render_clip(ClipSpec(track, (0,), 0, None), PRE)[1][0]
    flipped = render_clip(ClipSpec(track, (0,), 0, None, flip=True), PRE)[1][0]
    assert np.array_equal(flipped, plain[:, ::-1])
    jpeg = render_clip(ClipSpec(track, (0,), 0, None, jpeg_quality=30), PRE)[1][0]
    assert 0 < np.abs(jpeg.astype(int) - plain.astype(int)).mean() < 20
