"""The token signing key: configured, or generated once and kept private in the home folder.

No key is written in the source. Without ``DEEPVERIFY_SECRET_KEY`` (allowed in development only)
the first start writes a random key to ``home/secret_key`` (mode 0600) and later starts read it
back, so tokens survive restarts. A generated key is refused on a non-loopback address unless
``DEEPVERIFY_ALLOW_GENERATED_SECRET_ON_PUBLIC_HOST`` says so: a server reachable by others
should have its key managed like any other secret.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from deepverify.errors import ConfigError
from deepverify.service.core import storage
from deepverify.service.core.settings import MIN_SECRET_KEY_LENGTH, PRIVATE_FILE_MODE, Settings

logger = logging.getLogger(__name__)
SECRET_KEY_FILE = "secret_key"
_LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: may resolve to anything


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 (never readable by others, even for an instant)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _stored_key(path: Path) -> str:
    """The key in ``path``, generated first when the file does not exist."""
    try:
        write_private(path, secrets.token_urlsafe(48).encode("ascii"))
        logger.warning(
            "no DEEPVERIFY_SECRET_KEY set: generated a random signing key in %s (mode 0600); "
            "set DEEPVERIFY_SECRET_KEY to manage it yourself",
            path,
        )
    except FileExistsError:
        path.chmod(PRIVATE_FILE_MODE)
        logger.info("using the signing key generated earlier in %s", path)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"the key in {path} is too short; delete the file to generate a new one")
    return key


def with_secret_key(settings: Settings) -> Settings:
    """``settings`` with a signing key: the configured one, or the generated one in ``home``.

    Raises:
        ConfigError: a generated key would serve a non-loopback address without being allowed.
    """
    if settings.secret_key is not None:
        return settings
    if not is_loopback(settings.host) and not settings.allow_generated_secret_on_public_host:
        raise ConfigError(
            f"refusing to serve on {settings.host} with a generated secret key: set "
            "DEEPVERIFY_SECRET_KEY (or DEEPVERIFY_ALLOW_GENERATED_SECRET_ON_PUBLIC_HOST=true)"
        )
    storage.ensure_dirs(settings)
    key = _stored_key(settings.home / SECRET_KEY_FILE)
    return settings.model_copy(update={"secret_key": SecretStr(key)})
