"""Group-aware splits never separate a source video from its fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.errors import DatasetError
from deepverify.training.datasets import VideoItem
from deepverify.training.splits import assign_splits, check_no_leak


def _items(n_groups: int, per_group: int = 3) -> list[VideoItem]:
    return [
        VideoItem(Path(f"g{g}_{k}.mp4"), int(k > 0), f"g{g}", f"g{g}_{k}")
        for g in range(n_groups)
        for k in range(per_group)
    ]


def test_groups_stay_together_and_fractions_hold() -> None:
    items = _items(40)
    splits = assign_splits(items, val_fraction=0.2, test_fraction=0.1, seed=3)
    check_no_leak(items, splits)
    counts = {s: sum(v == s for v in splits.values()) for s in ("train", "val", "test")}
    assert counts["val"] >= 0.2 * len(items) and counts["val"] < 0.3 * len(items)
    assert counts["test"] >= 0.1 * len(items) and counts["test"] < 0.2 * len(items)
    assert counts["train"] == len(items) - counts["val"] - counts["test"]


def test_deterministic_and_seed_dependent() -> None:
    items = _items(30)
    a = assign_splits(items, val_fraction=0.2, seed=1)
    assert a == assign_splits(list(reversed(items)), val_fraction=0.2, seed=1)
    assert a != assign_splits(items, val_fraction=0.2, seed=2)


def test_official_split_kept_and_conflict_rejected() -> None:
    items = [
        VideoItem(Path("a.mp4"), 0, "ga", "a", split="test"),
        VideoItem(Path("b.mp4"), 1, "ga", "b", split="test"),
        *_items(10),
    ]
    splits = assign_splits(items, val_fraction=0.3)
    assert splits["a"] == splits["b"] == "test"
    bad = [
        VideoItem(Path("a.mp4"), 0, "g", "a", split="train"),
        VideoItem(Path("b.mp4"), 1, "g", "b", split="test"),
    ]
    with pytest.raises(DatasetError, match="separate group"):
        assign_splits(bad)


def test_leak_detected() -> None:
    items = _items(2)
    splits = {i.item_id: "train" for i in items}
    splits["g0_1"] = "val"
    with pytest.raises(DatasetError, match="group g0"):
        check_no_leak(items, splits)


def test_train_never_emptied() -> None:
    items = _items(2)
    splits = assign_splits(items, val_fraction=0.9)
    assert "train" in splits.values() and "val" in splits.values()
