"""Training and validation clips cut from one or more face-crop caches.

A clip is T crops of one face track, ``frame_stride`` cached crops apart (a cache extracted at
twice the model's frames and read at stride 2 has the spacing ``scan`` sees, with twice the
choice of crops). Fakes are either the dataset's own (label 1 items) or self-blended on the fly
from a real track, with one draw of blend parameters for the whole clip. Every crop, real or
fake, then goes through the same steps:

1. (self-blended fakes only) :func:`~deepverify.training.sbi.self_blend` on the wide crop;
2. :func:`deepverify.faces.crops.crop_face` with the model's ``crop_margin`` and ``input_size``,
   using the face box in cached-crop coordinates — the same function and geometry ``scan``
   applies to the full frame, so the model sees the same framing in training and at inference;
3. one clip-wide :class:`~deepverify.training.augment.Degradation` (flip, small face, blur, low
   light, noise, JPEG), drawn alike for both classes;
4. :func:`deepverify.faces.crops.to_tensor` with the card's mean and std.

Items are split by group three ways: ``train``, ``val`` (chooses the epoch) and ``calib``
(fits temperature and threshold), so the calibration data never chose anything else; the tracks
and the split come from :mod:`deepverify.training.split_tracks` (re-exported here).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from deepverify.errors import DatasetError
from deepverify.faces import crops as crops_mod
from deepverify.model import ModelCard
from deepverify.training.augment import AugmentConfig, Degradation, degrade, sample_degradation
from deepverify.training.config import DataConfig
from deepverify.training.sbi import BlendParams, SBIConfig, sample_blend_params
from deepverify.training.sbi import self_blend as blend
from deepverify.training.split_tracks import SPLIT_NAMES, TrackRef, load_split_tracks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preprocess:
    """The model-card fields that define a crop (build it with :meth:`from_card`)."""

    input_size: int
    crop_margin: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_card(cls, card: ModelCard) -> Preprocess:
        """The crop ``card`` describes: what ``scan`` cuts and normalises for that model."""
        return cls(card.input_size, card.crop_margin, card.mean, card.std)


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one clip, so validation clips are reproducible."""

    track: TrackRef
    positions: tuple[int, ...]
    label: int
    blend: BlendParams | None  # self-blended fake when set
    degradation: Degradation = field(default_factory=Degradation)


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def window(length: int, steps: int, start: int, stride: int = 1) -> tuple[int, ...]:
    """``steps`` positions ``stride`` apart into a track of ``length`` crops, from ``start``.

    Tracks too short for that span are sampled evenly instead, and tracks shorter than
    ``steps`` are stretched by repeating crops in order (a still image becomes a static clip),
    so every clip of a batch has the same length.
    """
    span = (steps - 1) * stride + 1
    if length >= span:
        return tuple(range(start, start + span, stride))
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
    for k, pos in enumerate(spec.positions):
        image = _read_rgb(spec.track.crops[pos])
        box = spec.track.boxes[pos]
        if spec.blend is not None:
            image, _ = blend(image, box, spec.track.landmarks[pos], spec.blend, k)
        crop = crops_mod.crop_face(image, box, margin=pre.crop_margin, size=pre.input_size)
        crops.append(degrade(crop, spec.degradation, k))
    return crops_mod.to_tensor(crops, mean=pre.mean, std=pre.std), crops


def manipulation_family(method: str) -> str:
    """The family of a manipulation name: its words before any parenthesis, lower-cased.

    "lip sync (Wav2Lip) on a still photo" and "lip sync (HyperLips)" are both "lip sync";
    FaceForensics++ method names ("FaceSwap", "Deepfakes") are their own families.
    """
    return method.split("(", 1)[0].strip().lower()


def _pool(tracks: Sequence[TrackRef], key: str) -> list[list[list[TrackRef]]]:
    """Tracks nested as strata -> items -> tracks.

    ``key`` is "track" (one stratum, one track per entry), "item" (one stratum, tracks of one
    item together), "method" (a stratum per manipulation, then items) or "family" (a stratum
    per :func:`manipulation_family`, then items).
    """
    if key == "track":
        return [[[t] for t in tracks]] if tracks else []

    def stratum(t: TrackRef) -> str:
        if key == "method":
            return t.method
        return manipulation_family(t.method) if key == "family" else ""

    strata: dict[str, dict[str, list[TrackRef]]] = defaultdict(lambda: defaultdict(list))
    for t in tracks:
        strata[stratum(t)][t.item_id].append(t)
    return [list(by_item.values()) for _, by_item in sorted(strata.items())]


def _draw(pool: list[list[list[TrackRef]]], rng: np.random.Generator) -> TrackRef:
    stratum = pool[int(rng.integers(len(pool)))]
    item = stratum[int(rng.integers(len(stratum)))]
    return item[int(rng.integers(len(item)))]


class TrainClips(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Random clips, a fresh draw every epoch.

    ``fake_ratio`` of them are fake (half, in (real, fake) pairs, when ``data.paired``).

    Each step of an epoch has one clip length T (from ``data.clip_lengths``, or
    ``data.clip_frames``) and ``batch_size * clip_frames // T`` clips, so every step costs the
    same number of crops. Sample ``i`` of epoch ``e`` is fully determined by (seed, e, i), so
    runs are reproducible with any number of DataLoader workers or DDP ranks.
    """

    def __init__(
        self,
        tracks: Sequence[TrackRef],
        pre: Preprocess,
        data: DataConfig,
        sbi: SBIConfig,
        seed: int,
        *,
        batch_size: int = 1,
        augment: AugmentConfig | None = None,
    ) -> None:
        real = [t for t in tracks if t.label == 0]
        fake = [t for t in tracks if t.label == 1]
        if not real:
            raise DatasetError("training needs at least one real face track")
        self.real = _pool(real, "item" if data.balance else "track")
        self.fake = _pool(fake, data.strata if data.balance else "track")
        self.real_by_group: dict[str, list[TrackRef]] = defaultdict(list)
        for t in real:
            self.real_by_group[t.group].append(t)
        self.pre, self.data, self.sbi, self.seed = pre, data, sbi, seed
        self.augment = augment or AugmentConfig()
        self.batch_size = batch_size
        self.steps = max(1, math.ceil(data.clips_per_epoch / batch_size))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws ``__getitem__`` returns (and plan its steps)."""
        self.epoch = epoch
        lengths = self.data.clip_lengths or [self.data.clip_frames]
        budget = self.batch_size * self.data.clip_frames
        self.plan: list[tuple[int, int]] = []  # (T, clips) per step
        for step in range(self.steps):
            rng = np.random.default_rng([self.seed, epoch, step, 7])
            steps = int(lengths[int(rng.integers(len(lengths)))])
            clips = max(1, budget // steps)
            if self.data.paired:  # whole (real, fake) pairs in every step
                clips = max(2, clips - clips % 2)
            self.plan.append((steps, clips))
        self.offsets = [0]
        for _, clips in self.plan:
            self.offsets.append(self.offsets[-1] + clips)

    def __len__(self) -> int:
        return self.offsets[-1]

    def clip_length(self, index: int) -> int:
        """T of the step that ``index`` belongs to."""
        return self.plan[bisect.bisect_right(self.offsets, index) - 1][0]

    def spec(self, index: int) -> ClipSpec:
        """The clip drawn for ``index`` in the current epoch."""
        if self.data.paired:
            return self._pair(index // 2)[index % 2]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        steps, stride = self.clip_length(index), self.data.frame_stride
        fake = bool(rng.uniform() < self.data.fake_ratio)
        use_dataset_fake = fake and bool(self.fake) and rng.uniform() >= self.data.sbi_share
        track = _draw(self.fake if use_dataset_fake else self.real, rng)
        span = (steps - 1) * stride + 1
        start = int(rng.integers(max(1, len(track.crops) - span + 1)))
        return ClipSpec(
            track=track,
            positions=window(len(track.crops), steps, start, stride),
            label=int(fake),
            blend=sample_blend_params(rng, self.sbi) if fake and not use_dataset_fake else None,
            degradation=sample_degradation(rng, self.augment),
        )

    def _pair(self, pair: int) -> tuple[ClipSpec, ClipSpec]:
        """Pair ``pair`` of the epoch: (real clip, fake clip) with one degradation draw.

        A self-blended fake is its real partner's own window, blended. A dataset fake's partner
        is a real track of its group (the video it was made from, where the corpus has it) at
        the same relative position, else a real track drawn as usual.
        """
        rng = np.random.default_rng([self.seed, self.epoch, pair, 2])
        steps, stride = self.clip_length(2 * pair), self.data.frame_stride
        span = (steps - 1) * stride + 1
        degradation = sample_degradation(rng, self.augment)
        if not self.fake or rng.uniform() < self.data.sbi_share:
            track = _draw(self.real, rng)
            start = int(rng.integers(max(1, len(track.crops) - span + 1)))
            positions = window(len(track.crops), steps, start, stride)
            blend_params = sample_blend_params(rng, self.sbi)
            return (
                ClipSpec(track, positions, 0, None, degradation),
                ClipSpec(track, positions, 1, blend_params, degradation),
            )
        fake = _draw(self.fake, rng)
        start = int(rng.integers(max(1, len(fake.crops) - span + 1)))
        partners = self.real_by_group.get(fake.group)
        real = partners[int(rng.integers(len(partners)))] if partners else _draw(self.real, rng)
        real_start = min(start, max(0, len(real.crops) - span))
        return (
            ClipSpec(
                real, window(len(real.crops), steps, real_start, stride), 0, None, degradation
            ),
            ClipSpec(fake, window(len(fake.crops), steps, start, stride), 1, None, degradation),
        )

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.spec(index)
        clip, _ = render_clip(spec, self.pre)
        return clip, torch.tensor(float(spec.label))


class StepBatches(Sampler[list[int]]):
    """The batches of a :class:`TrainClips` epoch, one per planned step.

    With several ranks, rank ``r`` takes steps ``r, r + world, ...`` (every rank the same count).
    """

    def __init__(self, dataset: TrainClips, rank: int = 0, world: int = 1) -> None:
        self.dataset, self.rank, self.world = dataset, rank, world

    def __len__(self) -> int:
        return self.dataset.steps // self.world or 1

    def __iter__(self) -> Iterator[list[int]]:
        offsets = self.dataset.offsets
        for k in range(len(self)):
            step = (k * self.world + self.rank) % self.dataset.steps
            yield list(range(offsets[step], offsets[step + 1]))


def validation_specs(
    tracks: Sequence[TrackRef], data: DataConfig, sbi: SBIConfig, seed: int
) -> list[ClipSpec]:
    """Fixed validation clips of ``data.val_clip_frames`` crops (the inference length).

    Per real track, ``val_clips_per_track`` windows, each also self-blended when
    ``data.val_sbi``; per dataset-fake track, its windows as they are.
    """
    specs = []
    steps = data.val_clip_frames or data.clip_frames
    stride = data.frame_stride
    span = (steps - 1) * stride + 1
    for track in tracks:
        n = len(track.crops)
        starts = np.linspace(0, max(0, n - span), data.val_clips_per_track).round().astype(int)
        for k, start in enumerate(dict.fromkeys(int(s) for s in starts)):
            positions = window(n, steps, start, stride)
            if track.label == 1:
                specs.append(ClipSpec(track, positions, 1, None))
                continue
            specs.append(ClipSpec(track, positions, 0, None))
            if data.val_sbi:
                rng = np.random.default_rng(
                    _stable_seed(seed, track.item_id, track.crops[0].name, k)
                )
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


__all__ = [
    "SPLIT_NAMES",
    "ClipSpec",
    "FixedClips",
    "Preprocess",
    "StepBatches",
    "TrackRef",
    "TrainClips",
    "load_split_tracks",
    "render_clip",
    "validation_specs",
    "window",
]
