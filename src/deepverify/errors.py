"""Exceptions raised by the library.

Every error a user can cause derives from :class:`DeepverifyError`; its message is one line that
says what was wrong with the input and what to do. The CLI prints it and exits non-zero; the API
turns it into a 4xx response or a failed job with that reason.
"""


class DeepverifyError(Exception):
    """Base class of all user-facing errors."""


class InvalidVideoError(DeepverifyError):
    """The input is not a decodable video (missing, empty, corrupt, audio only, too large...)."""


class DetectorError(DeepverifyError):
    """A face detector could not be created (unknown name, missing or corrupt weights)."""


class ModelError(DeepverifyError):
    """A checkpoint or model card could not be loaded or does not match the code."""


class DatasetError(DeepverifyError):
    """A dataset folder is not in the layout its format expects."""


class ConfigError(DeepverifyError):
    """A configuration file or option is invalid."""


class MissingExtraError(DeepverifyError):
    """A command needs an optional dependency group (e.g. ``train``: PyTorch) that is missing."""


def one_line(error: BaseException | str) -> str:
    """The first non-empty line of an error's message, for a one-line reason.

    Third-party errors (ONNX Runtime, PyTorch, YAML) often carry several lines of detail; a
    user-facing message quotes only the first. An exception without a message gives its type's
    name, so the reason is never empty.

    Args:
        error: An exception, or a message.
    """
    text = str(error)
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "unknown error" if isinstance(error, str) else type(error).__name__
