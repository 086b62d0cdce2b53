"""Training and validation clips cut from the face-crop cache.

A clip is T consecutive cached crops of one face track. Fakes are either the dataset's own
(label 1 items) or self-blended on the fly from a real track, with one draw of blend parameters
for the whole clip. Every crop, real or fake, then goes through the same steps:

1. (fakes only) :func:`~deepverify.training.sbi.self_blend` on the wide cached crop;
2. :func:`deepverify.crops.crop_face` with the model's ``crop_margin`` and ``input_size``, using
   the face box in cached-crop coordinates — the same function and geometry ``scan`` applies to
   the full frame, so the model sees the same framing in training and at inference;
3. the same clip-wide augmentation (horizontal flip, JPEG re-compression);
4. :func:`deepverify.crops.to_tensor` with the card's mean and std.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from deepverify import crops as crops_mod
from deepverify.errors import DatasetError
from deepverify.geometry import Box
from deepverify.tracks import MIN_TRACK_FRACTION
from deepverify.training.cache import read_index
from deepverify.training.config import DataConfig
from deepverify.training.datasets import VideoItem
from deepverify.training.sbi import BlendParams, SBIConfig, jpeg_roundtrip, sample_blend_params
from deepverify.training.sbi import self_blend as blend
from deepverify.training.splits import assign_splits, check_no_leak


@dataclass(frozen=True)
class TrackRef:
    """One face track of a cached item."""

    item_id: str
    label: int
    group: str
    crops: tuple[Path, ...]
    boxes: tuple[Box, ...]  # in cached-crop coordinates
    landmarks: tuple[tuple[tuple[float, float], ...] | None, ...]


@dataclass(frozen=True)
class Preprocess:
    """The model-card fields that define a crop."""

    input_size: int
    crop_margin: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one clip, so validation clips are reproducible."""

    track: TrackRef
    positions: tuple[int, ...]
    label: int
    blend: BlendParams | None  # self-blended fake when set
    flip: bool = False
    jpeg_quality: int | None = None


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def load_split_tracks(
    cache_dir: Path, data: DataConfig
) -> tuple[dict[str, list[TrackRef]], dict[str, Any]]:
    """Read the cache, split its items by group and return the usable tracks per split.

    Returns:
        Split name -> tracks, and a summary (items and groups per split and label).

    Raises:
        DatasetError: Not a cache, or no usable real track in the training split.
    """
    index = read_index(cache_dir)
    records = [r for r in index["items"] if r["status"] == "ok"]
    if not records:
        raise DatasetError(f"the cache {cache_dir} holds no item with a face; check the dataset")
    items = [
        VideoItem(Path(r["path"]), int(r["label"]), r["group"], r["item_id"], r["split"])
        for r in records
    ]
    splits = assign_splits(items, val_fraction=data.val_fraction, seed=data.split_seed)
    check_no_leak(items, splits)
    tracks: dict[str, list[TrackRef]] = {"train": [], "val": [], "test": []}
    summary: dict[str, Any] = {}
    for record in records:
        split = splits[record["item_id"]]
        least = max(data.min_track_frames, math.ceil(MIN_TRACK_FRACTION * len(record["frames"])))
        for t in record["tracks"]:
            if len(t["crops"]) < least:
                continue
            tracks[split].append(
                TrackRef(
                    item_id=record["item_id"],
                    label=int(record["label"]),
                    group=record["group"],
                    crops=tuple(cache_dir / c for c in t["crops"]),
                    boxes=tuple(tuple(b) for b in t["crop_boxes"]),
                    landmarks=tuple(
                        tuple(tuple(p) for p in lm) if lm else None for lm in t["crop_landmarks"]
                    ),
                )
            )
        key = f"{split}_{'fake' if record['label'] else 'real'}_items"
        summary[key] = summary.get(key, 0) + 1
    for split in tracks:
        summary[f"{split}_groups"] = len({i.group for i in items if splits[i.item_id] == split})
    if not any(t.label == 0 for t in tracks["train"]):
        raise DatasetError(f"the cache {cache_dir} has no real face track for training")
    return tracks, summary


def window(length: int, steps: int, start: int) -> tuple[int, ...]:
    """``steps`` positions into a track of ``length`` crops, from ``start``.

    Tracks shorter than ``steps`` are stretched by repeating crops in order (a still image
    becomes a static clip), so every clip of a batch has the same length.
    """
    if length >= steps:
        return tuple(range(start, start + steps))
    return tuple(int(v) for v in np.rint(np.linspace(0, length - 1, steps)))


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(
            f"cached crop {path} is missing or unreadable; re-run `deepverify extract`"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def render_clip(spec: ClipSpec, pre: Preprocess) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Build one clip: returns the normalised tensor ``(T, 3, S, S)`` and the RGB crops."""
    crops = []
    for pos in spec.positions:
        image = _read_rgb(spec.track.crops[pos])
        box = spec.track.boxes[pos]
        if spec.blend is not None:
            image, _ = blend(image, box, spec.track.landmarks[pos], spec.blend)
        crop = crops_mod.crop_face(image, box, margin=pre.crop_margin, size=pre.input_size)
        if spec.flip:
            crop = np.ascontiguousarray(crop[:, ::-1])
        if spec.jpeg_quality is not None:
            crop = jpeg_roundtrip(crop, spec.jpeg_quality)
        crops.append(crop)
    return crops_mod.to_tensor(crops, mean=pre.mean, std=pre.std), crops


class TrainClips(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Random clips, a fresh draw every epoch: ``fake_ratio`` of them fake.

    Sample ``i`` of epoch ``e`` is fully determined by (seed, e, i), so runs are reproducible
    with any number of DataLoader workers or DDP ranks.
    """

    def __init__(
        self,
        tracks: Sequence[TrackRef],
        pre: Preprocess,
        data: DataConfig,
        sbi: SBIConfig,
        seed: int,
    ) -> None:
        self.real = [t for t in tracks if t.label == 0]
        self.fake = [t for t in tracks if t.label == 1]
        if not self.real:
            raise DatasetError("training needs at least one real face track")
        self.pre, self.data, self.sbi, self.seed = pre, data, sbi, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws ``__getitem__`` returns."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.data.clips_per_epoch

    def spec(self, index: int) -> ClipSpec:
        """The clip drawn for ``index`` in the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        steps = self.data.clip_frames
        fake = bool(rng.uniform() < self.data.fake_ratio)
        use_dataset_fake = fake and bool(self.fake) and rng.uniform() >= self.data.sbi_share
        pool = self.fake if use_dataset_fake else self.real
        track = pool[int(rng.integers(len(pool)))]
        start = int(rng.integers(max(1, len(track.crops) - steps + 1)))
        low, high = self.data.jpeg_quality
        return ClipSpec(
            track=track,
            positions=window(len(track.crops), steps, start),
            label=int(fake),
            blend=sample_blend_params(rng, self.sbi) if fake and not use_dataset_fake else None,
            flip=bool(rng.uniform() < self.data.hflip),
            jpeg_quality=int(rng.integers(low, high + 1))
            if rng.uniform() < self.data.jpeg_probability
            else None,
        )

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.spec(index)
        clip, _ = render_clip(spec, self.pre)
        return clip, torch.tensor(float(spec.label))


def validation_specs(
    tracks: Sequence[TrackRef], data: DataConfig, sbi: SBIConfig, seed: int
) -> list[ClipSpec]:
    """Fixed validation clips: per real track, real and self-blended versions of
    ``val_clips_per_track`` windows; per dataset-fake track, its windows as they are."""
    specs = []
    steps = data.clip_frames
    for track in tracks:
        n = len(track.crops)
        starts = np.linspace(0, max(0, n - steps), data.val_clips_per_track).round().astype(int)
        for k, start in enumerate(dict.fromkeys(int(s) for s in starts)):
            positions = window(n, steps, start)
            if track.label == 1:
                specs.append(ClipSpec(track, positions, 1, None))
                continue
            rng = np.random.default_rng(_stable_seed(seed, track.item_id, track.crops[0].name, k))
            specs.append(ClipSpec(track, positions, 0, None))
            specs.append(ClipSpec(track, positions, 1, sample_blend_params(rng, sbi)))
    return specs


class FixedClips(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Clips from a fixed list of specs (validation)."""

    def __init__(self, specs: Sequence[ClipSpec], pre: Preprocess) -> None:
        self.specs = list(specs)
        self.pre = pre

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.specs[index]
        clip, _ = render_clip(spec, self.pre)
        return clip, torch.tensor(float(spec.label))
