"""The typed training configuration (pydantic): every field has a default, unknown keys fail.

A YAML file gives any subset of the fields; ``key.path=value`` overrides from the command line
are applied on top (values parsed as YAML, so ``optim.lr=1e-3`` is a float). Relative paths in a
file are relative to that file's folder, never to the working directory. A file may start from
another with ``extends: base.yaml`` and change only what differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deepverify.errors import ConfigError, one_line
from deepverify.model.card import (
    BackboneName,
    CropMargin,
    Frames,
    InputSize,
    LstmSize,
    ModelCard,
)
from deepverify.training.augment import AugmentConfig
from deepverify.training.sbi import SBIConfig
from deepverify.training.splits import CALIB_FRACTION, VAL_FRACTION


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    """Where the crops come from and how clips are drawn from them."""

    cache: Path | None = None  # face-crop cache written by `deepverify extract`
    extra_caches: list[Path] = []  # more caches read with it (e.g. unlabelled real footage)
    # Shares of the groups that choose the epoch, and that fit temperature and threshold.
    val_fraction: float = Field(default=VAL_FRACTION, ge=0.0, lt=1.0)
    calib_fraction: float = Field(default=CALIB_FRACTION, ge=0.0, lt=1.0)
    split_seed: int = 0
    # Another training config whose split this run keeps: its groups stay in their splits, and
    # only groups it never saw (a new cache) are drawn by the fractions above. A model trained on
    # that split can then be fine-tuned on more data without its val or calib groups leaking.
    keep_split_of: Path | None = None
    clip_frames: int = Field(default=8, ge=1)  # T during training (and the crop budget per clip)
    clip_lengths: list[int] = []  # if set, each step draws its T from these (same crop budget)
    val_clip_frames: int | None = Field(default=None, ge=1)  # validation T (inference length)
    frame_stride: int = Field(default=1, ge=1)  # cached crops between two clip crops
    min_track_frames: int = Field(default=1, ge=1)  # shorter tracks are not used
    clips_per_epoch: int = Field(default=256, ge=1)  # training clips drawn per epoch (at T)
    fake_ratio: float = Field(default=0.5, ge=0.0, le=1.0)  # share of fake clips in a batch
    sbi_share: float = Field(
        default=1.0, ge=0.0, le=1.0
    )  # of fake clips: self-blended vs dataset fakes
    balance: bool = False  # draw reals per item and dataset fakes per manipulation, then item
    # With balance: one stratum per manipulation name ("method"), or per family of names
    # ("family": "lip sync (Wav2Lip)" and "lip sync (HyperLips)" are both "lip sync"), so that
    # a one-clip label does not weigh as much as a method with dozens of clips.
    strata: Literal["method", "family"] = "method"
    # Every fake clip comes with a real partner in the same step (its own source for a
    # self-blended fake; a real track of the same group, when there is one, for a dataset fake),
    # both degraded alike: the pair differs by the manipulation, not by identity or quality.
    paired: bool = False
    val_sbi: bool = True  # validation/calibration also get self-blended versions of real tracks
    val_clips_per_track: int = Field(
        default=2, ge=1
    )  # deterministic real + fake val clips per track
    num_workers: int = Field(default=0, ge=0)  # DataLoader worker processes


def _card_default(name: str) -> Any:
    """The model card's default for field ``name`` (stated there, not here)."""
    return ModelCard.model_fields[name].default


class ModelConfig(_Section):
    """The model card fields chosen at training time, and where training starts from.

    The card's fields here (``backbone`` to ``lstm_layers``) have the card's types, checks and
    defaults; :meth:`card` builds the card from them.
    """

    backbone: BackboneName = _card_default("backbone")
    input_size: InputSize | None = None  # None: the backbone's own
    frames: Frames = _card_default("frames")  # per video at inference (card value)
    crop_margin: CropMargin = _card_default("crop_margin")
    lstm_hidden: LstmSize = _card_default("lstm_hidden")
    lstm_layers: LstmSize = _card_default("lstm_layers")
    pretrained: bool = True  # ImageNet initialisation of the backbone
    # Backbone parameters listed before the first one whose name starts with this prefix are
    # frozen (with their BatchNorm statistics), e.g. "blocks.3" for EfficientNet, "layer3" for
    # ResNeXt; "" trains everything.
    freeze_until: str = ""
    # Start from a trained checkpoint (``.safetensors`` with its card) instead of ImageNet:
    # fine-tuning. Its architecture must match this section, and it must have been trained on
    # the same split (same caches, split seed and fractions), or validation would be leaked.
    init_from: Path | None = None
    # With init_from: after training, try the weights (1 - a) * start + a * tuned for each a
    # listed (1 = the tuned model) on the validation clips and keep the best (WiSE-FT).
    interpolate_with_init: list[float] = []

    @field_validator("interpolate_with_init")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= a <= 1.0 for a in value):
            raise ValueError("interpolation weights must lie in [0, 1]")
        return value

    def card(self, **fields: Any) -> ModelCard:
        """The (untrained) model card this section describes, with ``fields`` added.

        Raises:
            ModelError: ``fields`` hold an invalid value.
        """
        chosen = self.model_dump(include=set(ModelCard.model_fields), exclude_none=True)
        return ModelCard(**{**chosen, **fields})


class OptimConfig(_Section):
    """AdamW with linear warm-up then cosine decay."""

    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=4, ge=1)
    lr: float = Field(default=3e-4, gt=0.0)
    weight_decay: float = Field(default=1e-2, ge=0.0)
    # The trainable backbone layers learn at lr x this (the LSTM and heads at lr): below 1 keeps
    # an ImageNet backbone nearer its start while the new layers learn at full speed.
    backbone_lr_scale: float = Field(default=1.0, gt=0.0, le=1.0)
    warmup_steps: int = Field(default=20, ge=0)
    grad_clip: float = Field(default=1.0, ge=0.0)  # 0 disables clipping
    frame_loss_weight: float = Field(
        default=0.5, ge=0.0
    )  # per-crop head loss beside the video loss
    amp: bool = True  # mixed precision, CUDA only
    channels_last: bool = True  # CUDA only


class TrainConfig(_Section):
    """Everything `deepverify train` needs."""

    seed: int = 0
    out_dir: Path = Path("runs/train")
    threads: int = Field(default=2, ge=1)  # torch CPU threads
    max_minutes: float | None = Field(default=None, gt=0.0)  # stop after the epoch that passes this
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    sbi: SBIConfig = SBIConfig()
    augment: AugmentConfig = AugmentConfig()


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {key} is not a section")
        node = child
    node[keys[-1]] = value


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    def resolve(value: str) -> str:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())

    keys: tuple[tuple[str | None, str], ...] = (
        (None, "out_dir"),
        ("data", "cache"),
        ("data", "extra_caches"),
        ("data", "keep_split_of"),
        ("model", "init_from"),
    )
    for section, key in keys:
        node = raw.get(section, {}) if section else raw
        if not isinstance(node, dict):
            continue
        if isinstance(node.get(key), str):
            node[key] = resolve(node[key])
        elif isinstance(node.get(key), list):
            node[key] = [resolve(v) if isinstance(v, str) else v for v in node[key]]


# Not OmegaConf: this nine-line merge is all `extends` needs, pydantic already types and checks
# the result, and OmegaConf would neither resolve paths against each file's folder nor drop a line.
def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def _read_file(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One YAML file's settings, paths resolved.

    ``extends: other.yaml`` (relative to the file) reads that file first and lets this one
    override it, key by key.
    """
    if path.resolve() in chain:
        raise ConfigError(f"{path} extends itself (through {' -> '.join(str(p) for p in chain)})")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {one_line(exc)}") from exc
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    raw: dict[str, Any] = loaded or {}
    _resolve_paths(raw, path.resolve().parent)
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"{path}: extends must be the path of another config file")
    return _merge(_read_file(path.resolve().parent / base, (*chain, path.resolve())), raw)


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or the defaults) and apply ``key.path=value`` overrides.

    Raises:
        ConfigError: Unreadable file, not a mapping, unknown key, wrong type, a bad override or
            an ``extends`` chain that loops.
    """
    raw: dict[str, Any] = _read_file(path) if path is not None else {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like section.key=value")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value
        _set_path(raw, key.strip(), parsed)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        source = f"{path}: " if path else ""
        raise ConfigError(f"{source}{_format_error(exc)}") from exc
