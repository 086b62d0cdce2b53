"""The model card: one frozen description of a detector that checkpoint, CLI and service share.

Serialised as JSON beside the weights (``x.json`` with ``x.safetensors`` and/or ``x.onnx``) with a
schema version, and validated when read: a card that is missing fields, has unknown ones, names an
unknown backbone or detector or holds out-of-range values raises
:class:`~deepverify.errors.ModelError`. Cards of schema 1 (before ``detector``,
``train_sequence_length`` and ``onnx_sha256`` existed) still load, with those fields' defaults.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from deepverify.decision import DEFAULT_POLICY, DecisionPolicy
from deepverify.defaults import DEFAULT_DETECTOR, DEFAULT_NUM_FRAMES
from deepverify.errors import DeepverifyError, ModelError
from deepverify.faces.registry import check_detector_name
from deepverify.model.backbones import get_backbone

CARD_SCHEMA_VERSION = 3
# Fields added after schema 1, with the value a schema-1 card gets. Every card before them was
# made from crops of the OpenCV SSD detector.
_ADDED_IN_V2: dict[str, Any] = {
    "detector": DEFAULT_DETECTOR,
    "train_sequence_length": None,
    "onnx_sha256": "",
}
# Schema 3 added the decision policy (uncertain band, gates); earlier cards have none.
_ADDED_IN_V3: dict[str, Any] = {"decision": None}
_READABLE_VERSIONS = (1, 2, CARD_SCHEMA_VERSION)


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to rebuild, run and judge a detector.

    Attributes:
        backbone: registry name, see :func:`deepverify.model.available_backbones`.
        input_size: side in pixels of the square face crops fed to the backbone.
        mean: per-channel RGB mean on [0, 1] pixels used to normalise crops; by default the
            backbone's own (what its ImageNet weights expect).
        std: per-channel RGB std on [0, 1] pixels, by default the backbone's.
        frames: frames sampled per video at inference, the LSTM's sequence length there.
        crop_margin: fraction of the face box size added on each side before cropping.
        detector: the face detector (registry name) whose boxes the training crops were cut
            from; scanning with another one shifts the crops the network sees.
        train_sequence_length: longest clip (crops) the LSTM was trained on (None: not recorded).
        lstm_hidden: LSTM hidden size.
        lstm_layers: number of stacked LSTM layers.
        threshold: decision threshold on the calibrated probability of "fake".
        temperature: logits are divided by this before the sigmoid (calibration).
        trained: False until the detector head has been trained on deepfake data.
        model_id: ``"<backbone>-<first 12 hex of weights sha256>"``, set when saved.
        weights_sha256: sha256 of the ``.safetensors`` file, set when saved.
        onnx_sha256: sha256 of the ``.onnx`` graph exported from those weights ("" if none).
        training_data: free-form description of the training data.
        metrics: free-form validation metrics.
        created: ISO 8601 time the checkpoint was written.
        decision: how probabilities become FAKE / REAL / INCONCLUSIVE (band fitted on the
            calibration split, evidence gates); ``None``: the threshold and the default gates.
    """

    backbone: str
    input_size: int = 224
    # None means "the backbone's", filled in by __post_init__: a card always holds numbers.
    mean: tuple[float, float, float] = None  # type: ignore[assignment]
    std: tuple[float, float, float] = None  # type: ignore[assignment]
    frames: int = DEFAULT_NUM_FRAMES
    crop_margin: float = 0.3
    detector: str = DEFAULT_DETECTOR
    train_sequence_length: int | None = None
    lstm_hidden: int = 256
    lstm_layers: int = 1
    threshold: float = 0.5
    temperature: float = 1.0
    trained: bool = False
    model_id: str = ""
    weights_sha256: str = ""
    onnx_sha256: str = ""
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    decision: DecisionPolicy | None = None

    def __post_init__(self) -> None:
        spec = get_backbone(self.backbone)  # raises ModelError listing valid names
        if self.mean is None:
            object.__setattr__(self, "mean", spec.mean)
        if self.std is None:
            object.__setattr__(self, "std", spec.std)
        try:
            check_detector_name(self.detector)
        except DeepverifyError as exc:
            raise ModelError(f"invalid model card: {exc}") from None
        problems = [
            message
            for bad, message in (
                (self.input_size < 32, f"input_size must be >= 32, got {self.input_size}"),
                (len(self.mean) != 3 or len(self.std) != 3, "mean and std need 3 values"),
                (any(s <= 0 for s in self.std), f"std must be > 0, got {self.std}"),
                (self.frames < 1, f"frames must be >= 1, got {self.frames}"),
                (
                    self.train_sequence_length is not None and self.train_sequence_length < 1,
                    f"train_sequence_length must be >= 1, got {self.train_sequence_length}",
                ),
                (self.crop_margin < 0, f"crop_margin must be >= 0, got {self.crop_margin}"),
                (self.lstm_hidden < 1 or self.lstm_layers < 1, "LSTM sizes must be >= 1"),
                (not 0.0 <= self.threshold <= 1.0, f"threshold {self.threshold} not in [0, 1]"),
                (self.temperature <= 0, f"temperature must be > 0, got {self.temperature}"),
            )
            if bad
        ]
        if problems:
            raise ModelError(f"invalid model card: {'; '.join(problems)}")

    @classmethod
    def for_backbone(cls, backbone: str, **overrides: Any) -> ModelCard:
        """A card with the backbone's own input size (and normalisation), then ``overrides``."""
        values: dict[str, Any] = {"input_size": get_backbone(backbone).default_input_size}
        values.update(overrides)
        return cls(backbone=backbone, **values)

    def detector_warning(self, detector: str) -> str | None:
        """A warning when scanning with ``detector`` differs from how the crops were trained."""
        if detector == self.detector:
            return None
        return (
            f"face detector {detector!r} differs from the model's {self.detector!r} (its "
            "training crops came from that one); crops shift and scores may degrade"
        )

    @property
    def short_sha(self) -> str:
        """First 12 hex digits of the weights' sha256 ("" before saving)."""
        return self.weights_sha256[:12]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema_version`` first."""
        values = dataclasses.asdict(self)
        values["decision"] = None if self.decision is None else self.decision.model_dump()
        return {"schema_version": CARD_SCHEMA_VERSION, **values}

    @property
    def policy(self) -> DecisionPolicy:
        """The decision policy: the card's, or the defaults (no band, the fixed gates)."""
        return self.decision or DEFAULT_POLICY

    def to_json(self) -> str:
        """The card as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "model card") -> ModelCard:
        """Validate a dict read from JSON and build the card.

        Raises:
            ModelError: wrong schema version, missing/unknown fields, wrong types or values.
        """
        if not isinstance(data, dict):
            raise ModelError(f"{source} is not a JSON object; re-create it with the checkpoint")
        data = dict(data)
        version = data.pop("schema_version", None)
        if version not in _READABLE_VERSIONS:
            raise ModelError(
                f"{source} has schema_version {version!r}, this deepverify reads "
                f"{' and '.join(map(str, _READABLE_VERSIONS))}; use a matching deepverify version"
            )
        if version == 1:
            data = {**_ADDED_IN_V2, **data}
        if version in (1, 2):
            data = {**_ADDED_IN_V3, **data}
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(names - data.keys())
        unknown = sorted(data.keys() - names)
        if missing or unknown:
            raise ModelError(f"{source} is missing fields {missing} / has unknown fields {unknown}")
        try:
            # Lax pydantic validation: JSON lists -> tuples, ints -> floats; wrong types fail.
            card: ModelCard = _ADAPTER.validate_python(data)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ModelError(f"{source}: field {where!r}: {first['msg']}") from None
        return card

    @classmethod
    def from_json(cls, text: str, *, source: str = "model card") -> ModelCard:
        """Parse and validate JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source} is not valid JSON ({exc}); re-create it") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        """Read and validate a card file.

        Raises:
            ModelError: the file is missing, unreadable or invalid.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelError(
                f"model card {path} not found; it must sit beside the weights"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read model card {path}: {exc}") from None
        return cls.from_json(text, source=f"model card {path}")


_ADAPTER = pydantic.TypeAdapter(ModelCard)
