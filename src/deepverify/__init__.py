"""deepverify: deepfake video detection with calibrated, explained verdicts."""

from deepverify.errors import DeepverifyError

__version__ = "0.1.0"

__all__ = ["DeepverifyError", "__version__"]
