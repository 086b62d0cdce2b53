"""Clips from the cache: group splits, reproducible draws, fakes only where expected."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from deepverify.errors import ConfigError, DatasetError
from deepverify.training import split_tracks
from deepverify.training.augment import AugmentConfig, Degradation, degrade, sample_degradation
from deepverify.training.cache import ExtractSummary
from deepverify.training.clips import (
    ClipSpec,
    FixedClips,
    Preprocess,
    StepBatches,
    TrackRef,
    TrainClips,
    _draw,
    _pool,
    load_split_tracks,
    render_clip,
    validation_specs,
    window,
)
from deepverify.training.config import DataConfig, load_config
from deepverify.training.sbi import SBIConfig
from deepverify.training.split_tracks import split_videos

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
    assert len(ds) == 40
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
    flipped = render_clip(ClipSpec(track, (0,), 0, None, Degradation(flip=True)), PRE)[1][0]
    assert np.array_equal(flipped, plain[:, ::-1])
    jpeg = render_clip(ClipSpec(track, (0,), 0, None, Degradation(jpeg_quality=30)), PRE)[1][0]
    assert 0 < np.abs(jpeg.astype(int) - plain.astype(int)).mean() < 20


def test_variable_clip_lengths_keep_the_crop_budget(
    face_cache: tuple[Path, ExtractSummary],
) -> None:
    cache, _ = face_cache
    data = DataConfig(val_fraction=0.0, clip_frames=2, clip_lengths=[2, 4], clips_per_epoch=16)
    tracks, _ = load_split_tracks(cache, data)
    ds = TrainClips(tracks["train"], PRE, data, SBIConfig(), seed=3, batch_size=4)
    batches = list(StepBatches(ds))
    assert len(batches) == 4  # ceil(16 clips / 4 per step)
    lengths = set()
    for batch in batches:
        (steps,) = {ds.clip_length(i) for i in batch}  # one T per step
        assert len(batch) * steps == 8  # batch_size x clip_frames crops, whatever T is
        assert ds[batch[0]][0].shape[0] == steps
        lengths.add(steps)
    assert lengths == {2, 4}
    # Two ranks share the steps without overlap.
    halves = [list(StepBatches(ds, rank, 2)) for rank in (0, 1)]
    assert not {i for b in halves[0] for i in b} & {i for b in halves[1] for i in b}


def test_window_stride_and_balanced_pools() -> None:
    assert window(64, 4, 1, stride=2) == (1, 3, 5, 7)
    assert window(5, 4, 0, stride=2) == (0, 1, 3, 4)  # too short for the span: spread evenly
    fake = [TrackRef(f"i{k}", 1, "g", (), (), (), method="A" if k < 9 else "B") for k in range(10)]
    pool = _pool(fake, "method")
    assert sorted(len(stratum) for stratum in pool) == [1, 9]
    rng = np.random.default_rng(0)
    draws = [_draw(pool, rng).method for _ in range(400)]
    assert 150 < draws.count("B") < 250  # the lone "B" item is drawn as often as all "A"s


def test_three_way_split_and_inference_length_validation(
    face_cache: tuple[Path, ExtractSummary],
) -> None:
    cache, _ = face_cache
    for seed in range(20):  # 5 groups: find a draw that leaves a real one for training
        data = DataConfig(val_fraction=0.2, calib_fraction=0.2, clip_frames=2,
                          val_clip_frames=5, val_sbi=False, split_seed=seed)  # fmt: skip
        try:
            tracks, summary = load_split_tracks([cache], data)
            break
        except DatasetError:
            continue
    ids = {name: {t.item_id for t in ts} for name, ts in tracks.items()}
    assert ids["train"] and ids["val"] and ids["calib"]
    assert not (
        ids["train"] & ids["val"] or ids["train"] & ids["calib"] or ids["val"] & ids["calib"]
    )
    assert summary["calib_groups"] >= 1
    specs = validation_specs(tracks["val"], data, SBIConfig(), seed=0)
    assert specs and all(len(s.positions) == 5 and s.blend is None for s in specs)


def test_degradations_apply_alike_and_are_reproducible() -> None:
    crop = np.full((48, 48, 3), 128, np.uint8)
    crop[10:30, 10:30] = 250
    config = AugmentConfig(downscale_probability=1, blur_probability=1, noise_probability=1,
                           light_probability=1, jpeg_probability=1, hflip=1)  # fmt: skip
    d = sample_degradation(np.random.default_rng(5), config)
    assert d.flip and None not in (
        d.downscale,
        d.blur_sigma,
        d.gamma,
        d.noise_sigma,
        d.jpeg_quality,
    )
    out = degrade(crop, d, 0)
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - crop.astype(int)).mean() > 2
    assert np.array_equal(out, degrade(crop, d, 0))  # same clip, same frame: same pixels
    assert not np.array_equal(out, degrade(crop, d, 1))  # sensor noise changes per frame
    assert np.array_equal(degrade(crop, Degradation(), 0), crop)


def test_paired_clips_differ_only_by_the_manipulation(
    face_cache: tuple[Path, ExtractSummary],
) -> None:
    cache, _ = face_cache
    data = DataConfig(val_fraction=0.0, clip_frames=2, clips_per_epoch=24, sbi_share=0.5,
                      paired=True)  # fmt: skip
    tracks, _ = load_split_tracks(cache, data)
    # The corpus's fake shares its group with one real video (the one it was made from).
    source = next(t for t in tracks["train"] if t.label == 0)
    train = [
        dataclasses.replace(t, group=source.group) if t.label == 1 else t for t in tracks["train"]
    ]
    ds = TrainClips(train, PRE, data, SBIConfig(), seed=5, batch_size=3)
    for batch in StepBatches(ds):
        assert len(batch) % 2 == 0 and batch[0] % 2 == 0  # whole pairs in every step
    kinds = set()
    for pair in range(len(ds) // 2):
        real, fake = ds.spec(2 * pair), ds.spec(2 * pair + 1)
        assert (real.label, fake.label) == (0, 1) and real.blend is None
        assert real.track.label == 0 and real.degradation == fake.degradation
        if fake.blend is not None:  # self-blended: the real clip's own window
            assert (fake.track, fake.positions) == (real.track, real.positions)
            kinds.add("sbi")
        else:
            assert fake.track.label == 1 and real.track.group == fake.track.group
            kinds.add("dataset")
    assert kinds == {"sbi", "dataset"}


def _cache_of_groups(cache: Path, out: Path, groups: set[str]) -> Path:
    """A copy of ``cache`` whose index lists only the items of ``groups``."""
    shutil.copytree(cache, out)
    index = json.loads((out / "index.json").read_text())
    index["items"] = [item for item in index["items"] if item["group"] in groups]
    (out / "index.json").write_text(json.dumps(index))
    return out


def test_a_kept_split_holds_its_groups_and_only_new_ones_are_drawn(
    face_cache: tuple[Path, ExtractSummary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, _ = face_cache
    items = json.loads((cache / "index.json").read_text())["items"]
    groups = sorted({item["group"] for item in items if item["status"] == "ok"})
    base_cache = _cache_of_groups(cache, tmp_path / "base", set(groups[:3]))
    new_cache = _cache_of_groups(cache, tmp_path / "new", set(groups[3:]))
    (tmp_path / "base.yaml").write_text(
        f"data: {{cache: {base_cache}, val_fraction: 0.34, calib_fraction: 0.34, split_seed: 1}}\n"
    )
    base_data = load_config(tmp_path / "base.yaml").data
    base_items, base_fingerprint = split_videos([base_cache], base_data)
    base_split = {i.group: s for s, items in base_items.items() for i in items}
    assert set(base_split) == set(groups[:3])

    # Another seed and other fractions: without the kept split the base groups would move.
    data = DataConfig(
        cache=base_cache,
        extra_caches=[new_cache],
        val_fraction=0.5,
        calib_fraction=0.0,
        split_seed=7,
        keep_split_of=tmp_path / "base.yaml",
    )
    items, fingerprint = split_videos([base_cache, new_cache], data)
    split_of = {i.group: s for s, members in items.items() for i in members}
    assert {g: split_of[g] for g in groups[:3]} == base_split
    assert set(split_of) == set(groups)
    moved = split_videos([base_cache, new_cache], data.model_copy(update={"keep_split_of": None}))
    assert {i.group: s for s, m in moved[0].items() for i in m} != split_of
    reads: list[Path] = []
    counted = split_tracks.read_index
    monkeypatch.setattr(split_tracks, "read_index", lambda d: reads.append(d) or counted(d))
    _, summary = load_split_tracks([base_cache, new_cache], data)
    assert summary["kept_split_groups_sha256"] == base_fingerprint != fingerprint
    # Each index read once for this run's split, and the base once more for the kept one.
    assert sorted(reads) == sorted([base_cache, new_cache, base_cache])

    chained = tmp_path / "chained.yaml"
    chained.write_text(f"data: {{cache: {new_cache}, keep_split_of: {tmp_path / 'base.yaml'}}}\n")
    with pytest.raises(ConfigError, match="keeps another split itself"):
        split_videos([base_cache], data.model_copy(update={"keep_split_of": chained}))
