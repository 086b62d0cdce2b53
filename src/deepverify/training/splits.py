"""Group-aware train/val/test splits: a source video and its fakes always share one split.

The ancestors of this project split videos at random, so a fake and the real video it was made
from ended up on both sides and the validation scores leaked. Here the unit of splitting is the
item's ``group`` (DFDC ``original``, FF++ id pair, Celeb-DF identity, folder file stem).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from deepverify.errors import DatasetError
from deepverify.training.datasets import VideoItem

VAL_FRACTION = 0.2
"""Default share of the groups a run validates on (chooses the epoch): ``data.val_fraction``."""
CALIB_FRACTION = 0.0
"""Default share of the groups held out for calibration (``data.calib_fraction``; 0: none, and
the validation split calibrates too)."""


def _rank(group: str, seed: int) -> str:
    # A hash rank is stable across runs and machines, unlike ``hash()`` or a shuffled list whose
    # order depends on which other groups exist.
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def assign_splits(
    items: Sequence[VideoItem],
    *,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = CALIB_FRACTION,
    seed: int = 0,
    use_official: bool = True,
) -> dict[str, str]:
    """Assign every item to "train", "val" or "test", keeping each group whole.

    Groups that an official split already places (every item of the group agreeing) keep it.
    The others are ordered by a seeded hash and the first ones fill val, then test, until each
    holds at least its fraction of the unplaced items.

    Args:
        items: Dataset items.
        val_fraction: Target share of unplaced items for validation.
        test_fraction: Target share of unplaced items for test.
        seed: Changes which groups are drawn.
        use_official: Honour the dataset's own split when it defines one.

    Returns:
        Item id -> split name.

    Raises:
        DatasetError: Fractions out of range, or an official split that separates a group.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DatasetError("val and test fractions must be in [0, 1) and sum to less than 1")
    groups: dict[str, list[VideoItem]] = defaultdict(list)
    for item in items:
        groups[item.group].append(item)
    result: dict[str, str] = {}
    free: list[str] = []
    for group, members in groups.items():
        official = {m.split for m in members if m.split} if use_official else set()
        if len(official) > 1:
            raise DatasetError(f"the dataset's own splits separate group {group}: {official}")
        if official:
            split = official.pop()
            result.update({m.item_id: split for m in members})
        else:
            free.append(group)
    total = sum(len(groups[g]) for g in free)
    targets = [("val", val_fraction * total), ("test", test_fraction * total)]
    order = sorted(free, key=lambda g: _rank(g, seed))
    for split, target in targets:
        taken = 0
        while order and taken < target and len(order) > 1:
            group = order.pop(0)
            taken += len(groups[group])
            result.update({m.item_id: split for m in groups[group]})
    for group in order:
        result.update({m.item_id: "train" for m in groups[group]})
    return result


def check_no_leak(items: Sequence[VideoItem], splits: dict[str, str]) -> None:
    """Raise if any group has items in more than one split."""
    seen: dict[str, str] = {}
    for item in items:
        split = splits[item.item_id]
        if seen.setdefault(item.group, split) != split:
            raise DatasetError(f"group {item.group} appears in both {seen[item.group]} and {split}")
