"""Fine-tuning: start from a trained checkpoint of the same split, and finish in weight space.

``model.init_from`` starts a run from a trained checkpoint rather than ImageNet. The checkpoint
must have this run's architecture, and must not record another split: its validation and
calibration groups would then sit in this run's training split.

``model.interpolate_with_init`` then finishes the run as WiSE-FT does (Wortsman et al., "Robust
fine-tuning of zero-shot models", CVPR 2022): the weights ``(1 - a) * start + a * tuned`` are
scored on the validation clips for each listed ``a`` (1 is the tuned model itself), and the best
one, by the rule that picks the epoch, is what gets calibrated and shipped. Fine-tuning on a
small corpus moves a model towards what that corpus rewards; the mix keeps what the starting
model knew, and is chosen on the validation split, never on evaluation data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from deepverify.errors import ConfigError
from deepverify.model import DeepfakeDetector, ModelCard, save_checkpoint
from deepverify.training.config import TrainConfig

logger = logging.getLogger(__name__)

TUNED_NAME = "best.safetensors"  # the run's own best epoch
MIXED_NAME = "interpolated.safetensors"  # the chosen mix, what finalize calibrates

_ARCHITECTURE = (
    "backbone",
    "input_size",
    "mean",
    "std",
    "crop_margin",
    "lstm_hidden",
    "lstm_layers",
)
_SPLIT_KEYS = ("caches", "split_seed", "val_fraction", "calib_fraction")


def split_record(cfg: TrainConfig) -> dict[str, Any]:
    """What decides the three-way split, as recorded in a trained card."""
    return {
        "caches": [c.name for c in (cfg.data.cache, *cfg.data.extra_caches) if c is not None],
        "split_seed": cfg.data.split_seed,
        "val_fraction": cfg.data.val_fraction,
        "calib_fraction": cfg.data.calib_fraction,
    }


def check_same_split(
    card: ModelCard,
    cfg: TrainConfig,
    what: str,
    split_groups: str | None = None,
    kept_groups: str | None = None,
) -> None:
    """Refuse a trained ``card`` whose recorded split differs from the one ``cfg`` makes.

    ``split_groups`` is this run's ``split_groups_sha256`` (which groups each split holds, from
    :func:`deepverify.training.clips.load_split_tracks`). When the card records one too, the
    two decide: the same groups in every split cannot leak, whatever the caches are called (a
    copy of a cache, or one cut from other boxes of the same videos). ``kept_groups`` is the
    fingerprint of the split this run keeps (``data.keep_split_of``): a model trained on that
    split may start this run too, since its groups stay where they were. Otherwise the caches'
    names, the split seed and the fractions must match.

    Raises:
        ConfigError: The split differs (a card that records nothing of it only gets a warning).
    """
    recorded_groups = card.training_data.get("split_groups_sha256")
    if split_groups is not None and recorded_groups is not None:
        if recorded_groups not in (split_groups, kept_groups):
            raise ConfigError(
                f"{what} was trained on another split (the groups of its splits differ): its "
                "validation and calibration groups may be in this run's training split"
            )
        return
    recorded = {k: card.training_data.get(k) for k in _SPLIT_KEYS}
    wanted = split_record(cfg)
    if None in recorded.values():
        logger.warning(
            "%s does not record its split (%s); make sure it was trained with the same "
            "caches, split seed and fractions",
            what,
            ", ".join(k for k, v in recorded.items() if v is None),
        )
    clash = [k for k, v in recorded.items() if v is not None and v != wanted[k]]
    if clash:
        raise ConfigError(
            f"{what} was trained on another split ({', '.join(clash)} differ): its validation "
            "and calibration groups may be in this run's training split"
        )


def init_from(
    model: DeepfakeDetector,
    card: ModelCard,
    cfg: TrainConfig,
    split_groups: str | None = None,
    kept_groups: str | None = None,
) -> ModelCard:
    """Load the weights of ``cfg.model.init_from`` into ``model`` (fine-tuning).

    ``split_groups``, ``kept_groups``: this run's split fingerprint and that of the split it
    keeps, for :func:`check_same_split`.

    Returns:
        ``card``, with the starting model's id recorded.

    Raises:
        ConfigError: The checkpoint has another architecture, or was trained on another split
            (its validation or calibration groups could then be in this run's training split).
    """
    from deepverify.model import load_checkpoint

    path = cfg.model.init_from
    assert path is not None
    start, start_card = load_checkpoint(path)
    differ = [f for f in _ARCHITECTURE if getattr(start_card, f) != getattr(card, f)]
    if differ:
        raise ConfigError(f"model.init_from {path}: its card differs in {', '.join(differ)}")
    check_same_split(start_card, cfg, f"model.init_from {path}", split_groups, kept_groups)
    model.load_state_dict(start.state_dict())
    logger.info("starting from %s (%s)", path, start_card.model_id)
    return card.replace(training_data={**card.training_data, "init_from": start_card.model_id})


def mix_states(
    start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * start + alpha * tuned`` for every floating tensor (counters: tuned's)."""
    return {
        k: torch.lerp(start[k].float(), v.float(), alpha).to(v.dtype)
        if v.is_floating_point()
        else v
        for k, v in tuned.items()
    }


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s weights, kept while other weights are loaded into it."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def choose_mix(
    model: DeepfakeDetector,
    first: dict[str, torch.Tensor],
    second: dict[str, torch.Tensor],
    weights: Iterable[float],
    score: Callable[[DeepfakeDetector], float],
) -> tuple[float, dict[str, float]]:
    """Score ``(1 - w) * first + w * second`` for each weight ``w``; leave the best in ``model``.

    The one weight-space search of the package: fine-tuning's interpolation with the starting
    model (:func:`interpolate_with_init`) and ``scripts/mix_checkpoints.py`` both use it.

    Args:
        model: Takes each mix in turn (its architecture must fit both states).
        first: The weights at ``w = 0``.
        second: The weights at ``w = 1``.
        weights: The weights to try, each in [0, 1] (duplicates are tried once).
        score: The validation score of a model, higher is better (the epoch-selection rule).

    Returns:
        The chosen weight (ties go to the larger one, the more of ``second``) and every weight's
        score, keyed by the weight written with ``:g``.
    """
    scores: dict[str, float] = {}
    for weight in sorted(set(weights)):
        model.load_state_dict(mix_states(first, second, weight))
        scores[f"{weight:g}"] = score(model)
        logger.info("weights %g x second + %g x first: validation score %.4f",
                    weight, 1 - weight, scores[f"{weight:g}"])  # fmt: skip
    chosen = max(scores, key=lambda w: (scores[w], float(w)))
    model.load_state_dict(mix_states(first, second, float(chosen)))
    return float(chosen), scores


def interpolate_with_init(
    cfg: TrainConfig, device: torch.device, score: Callable[[DeepfakeDetector], float]
) -> tuple[Path, dict[str, Any]]:
    """Choose the weight mix of the starting and the tuned model on the validation clips.

    Args:
        cfg: The run's config (``model.init_from`` and ``model.interpolate_with_init`` set).
        device: Where to score.
        score: The validation score of a model (higher is better), the epoch-selection rule.

    Returns:
        The checkpoint to calibrate (``interpolated.safetensors`` in the run folder) and what
        was tried, recorded in the card.
    """
    from deepverify.model import load_checkpoint

    assert cfg.model.init_from is not None
    model, card = load_checkpoint(cfg.out_dir / TUNED_NAME, device=str(device))
    start, _ = load_checkpoint(cfg.model.init_from, device=str(device))
    start_state, tuned_state = model_state(start), model_state(model)
    alpha, scores = choose_mix(
        model, start_state, tuned_state, cfg.model.interpolate_with_init, score
    )
    record = {"alpha": alpha, "validation_scores": {a: round(s, 6) for a, s in scores.items()}}
    mixed = card.replace(training_data={**card.training_data, "interpolation": record})
    save_checkpoint(model, mixed, cfg.out_dir / MIXED_NAME)
    return cfg.out_dir / MIXED_NAME, record
