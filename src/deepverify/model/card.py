"""The model card: one frozen description of a detector that checkpoint, CLI and service share.

Serialised as JSON beside the weights (``x.json`` with ``x.safetensors`` and/or ``x.onnx``) with a
schema version, and validated when read or built: a card that is missing fields, has unknown ones,
names an unknown backbone or detector or holds out-of-range values raises
:class:`~deepverify.errors.ModelError`. Cards of schema 1 (before ``detector``,
``train_sequence_length`` and ``onnx_sha256`` existed) and 2 (before ``decision``) still load.

The field types below (:data:`InputSize`, :data:`Frames`, ...) carry the card's constraints; the
training config reuses them, so a rule is stated once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from deepverify.decision import DEFAULT_POLICY, DecisionPolicy
from deepverify.defaults import DEFAULT_DETECTOR, DEFAULT_NUM_FRAMES
from deepverify.errors import DeepverifyError, ModelError
from deepverify.faces.registry import check_detector_name
from deepverify.model.backbones import DEFAULT_BACKBONE, BackboneSpec, get_backbone

CARD_SCHEMA_VERSION = 3
# Fields added after schema 1, with the value a schema-1 card gets. Every card before them was
# made from crops of the OpenCV SSD detector: that name, not whatever the default is now.
_ADDED_IN_V2: dict[str, Any] = {
    "detector": "opencv-ssd",
    "train_sequence_length": None,
    "onnx_sha256": "",
}
# Schema 3 added the decision policy (uncertain band, gates); earlier cards have none.
_ADDED_IN_V3: dict[str, Any] = {"decision": None}
_READABLE_VERSIONS = (1, 2, CARD_SCHEMA_VERSION)


def _user_error(check: Any) -> Any:
    """Wrap a registry lookup so its one-line error becomes a field error of the card."""

    def validate(name: str) -> str:
        try:
            check(name)
        except DeepverifyError as exc:
            raise ValueError(str(exc)) from None
        return name

    return AfterValidator(validate)


BackboneName = Annotated[str, _user_error(get_backbone)]
"""A registered backbone (:func:`deepverify.model.available_backbones`)."""
DetectorName = Annotated[str, _user_error(check_detector_name)]
"""A registered face detector (:func:`deepverify.faces.available_detectors`)."""
InputSize = Annotated[int, Field(ge=32)]
"""Side in pixels of the square face crops fed to the backbone."""
Frames = Annotated[int, Field(ge=1)]
"""Frames sampled per video at inference (the LSTM's sequence length there)."""
CropMargin = Annotated[float, Field(ge=0.0)]
"""Fraction of the face box size added on each side before cropping."""
LstmSize = Annotated[int, Field(ge=1)]
"""LSTM hidden size or number of stacked layers."""
Channels = tuple[float, float, float]


def _from_backbone(data: dict[str, Any], fact: str) -> Any:
    spec: BackboneSpec = get_backbone(data["backbone"])
    return getattr(spec, fact)


class ModelCard(BaseModel):
    """Everything needed to rebuild, run and judge a detector.

    Attributes:
        backbone: registry name, see :func:`deepverify.model.available_backbones`.
        input_size: side in pixels of the square face crops fed to the backbone; by default the
            backbone's own.
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

    # Lax validation: JSON lists become tuples, ints floats; wrong types and unknown keys fail.
    model_config = ConfigDict(frozen=True, extra="forbid")

    backbone: BackboneName = DEFAULT_BACKBONE
    input_size: InputSize = Field(default_factory=lambda d: _from_backbone(d, "default_input_size"))
    mean: Channels = Field(default_factory=lambda d: _from_backbone(d, "mean"))
    std: tuple[
        Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]
    ] = Field(default_factory=lambda d: _from_backbone(d, "std"))
    frames: Frames = DEFAULT_NUM_FRAMES
    crop_margin: CropMargin = 0.3
    detector: DetectorName = DEFAULT_DETECTOR
    train_sequence_length: Annotated[int, Field(ge=1)] | None = None
    lstm_hidden: LstmSize = 256
    lstm_layers: LstmSize = 1
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    temperature: Annotated[float, Field(gt=0.0)] = 1.0
    trained: bool = False
    model_id: str = ""
    weights_sha256: str = ""
    onnx_sha256: str = ""
    training_data: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    created: str = ""
    decision: DecisionPolicy | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _one_line_errors(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """Turn pydantic's report into one :class:`ModelError` line naming the first bad field."""
        try:
            return handler(data)
        except ValidationError as exc:
            source = (info.context or {}).get("source", "invalid model card")
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "card"
            message = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]
            got = "" if first["type"] == "value_error" else f" (got {first['input']!r})"
            raise ModelError(f"{source}: field {where!r}: {message}{got}") from None

    @classmethod
    def for_backbone(cls, backbone: str, **overrides: Any) -> ModelCard:
        """A card with the backbone's own input size and normalisation, then ``overrides``.

        Raises:
            ModelError: an unknown backbone or detector, or an out-of-range value.
        """
        return cls(backbone=backbone, **overrides)

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with ``changes``, validated like a new card (``model_copy`` would not check).

        Raises:
            ModelError: a changed value is invalid.
        """
        return type(self)(**{**dict(self), **changes})

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

    @property
    def policy(self) -> DecisionPolicy:
        """The decision policy: the card's, or the defaults (no band, the fixed gates)."""
        return self.decision or DEFAULT_POLICY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema_version`` first, then the fields in declaration order."""
        return {"schema_version": CARD_SCHEMA_VERSION, **self.model_dump()}

    def to_json(self) -> str:
        """The card as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "model card") -> ModelCard:
        """Validate a dict read from JSON and build the card.

        Every field must be present (a card on disk is complete); older schemas get the fields
        added since with the values those cards had.

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
        missing = sorted(cls.model_fields.keys() - data.keys())
        unknown = sorted(data.keys() - cls.model_fields.keys())
        if missing or unknown:
            raise ModelError(f"{source} is missing fields {missing} / has unknown fields {unknown}")
        return cls.model_validate(data, context={"source": source})

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
