"""Optional dependency groups: say in one line how to install the one a command needs."""

from __future__ import annotations

from deepverify.errors import MissingExtraError

TRAIN_EXTRA_INSTALL = "pip install 'deepverify[train]'"


def require_torch(what: str) -> None:
    """Check that the ``train`` extra (PyTorch and its stack) is installed.

    Args:
        what: what needs it, for the message (e.g. ``"deepverify train"``).

    Raises:
        MissingExtraError: torch cannot be imported.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError(
            f"{what} needs PyTorch, which the base install leaves out; "
            f"install the train extra: {TRAIN_EXTRA_INSTALL}"
        ) from None
