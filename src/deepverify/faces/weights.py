"""Where detector weights come from: a folder, the user cache, or a verified download.

Each detector class pins its own files (:attr:`~deepverify.faces.base.RegisteredDetector.weights`);
this module only finds and verifies them.

Order: the ``model_dir`` argument, else ``$DEEPVERIFY_DETECTOR_DIR``, else the user cache
(``$XDG_CACHE_HOME/deepverify/detectors``, default ``~/.cache/deepverify/detectors``), else a
download from the pinned upstream URL into that cache. Every file is checked against its sha256;
downloads are written to a temporary file in the cache and renamed only once verified.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from deepverify.errors import DetectorError
from deepverify.files import atomic_target, sha256_file

logger = logging.getLogger(__name__)

ENV_DIR = "DEEPVERIFY_DETECTOR_DIR"
DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WeightFile:
    """One file a detector needs, with where it is published and its checksum."""

    filename: str
    url: str
    sha256: str


Fetch = Callable[[str], BinaryIO]


def _urlopen(url: str) -> BinaryIO:
    response: BinaryIO = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    return response


fetch: Fetch = _urlopen
"""Opens a URL for reading; replaced in tests so nothing touches the network."""


def cache_dir() -> Path:
    """The user cache for detector weights (honours ``XDG_CACHE_HOME``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deepverify" / "detectors"


def resolve_files(
    files: Mapping[str, WeightFile], model_dir: Path | None = None
) -> dict[str, Path]:
    """Find (or download) verified copies of a detector's weight ``files``.

    Args:
        files: Role (``model``, ``config``) -> the pinned file (a detector's ``weights``).
        model_dir: Folder holding the files; when given, only it is searched.

    Returns:
        Role -> path of the verified file.

    Raises:
        DetectorError: A file missing where it must be, a checksum mismatch, or a download that
            failed.
    """
    env_dir = os.environ.get(ENV_DIR)
    return {
        role: _resolve_file(spec, model_dir, Path(env_dir) if env_dir else None)
        for role, spec in files.items()
    }


def _resolve_file(spec: WeightFile, model_dir: Path | None, env_dir: Path | None) -> Path:
    for folder, origin in ((model_dir, "model_dir"), (env_dir, f"${ENV_DIR}")):
        if folder is None:
            continue
        path = Path(folder) / spec.filename
        if not path.is_file():
            raise DetectorError(
                f"{spec.filename} not found in {folder} (from {origin}); put the file there "
                f"(download it from {spec.url}) or unset {origin}"
            )
        _verify(path, spec)
        return path
    cached = cache_dir() / spec.filename
    if cached.is_file():
        _verify(cached, spec)
        return cached
    return download(spec, cached.parent)


def _verify(path: Path, spec: WeightFile) -> None:
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise DetectorError(
            f"{path} has sha256 {actual[:12]}..., expected {spec.sha256[:12]}...; "
            f"replace it with the file from {spec.url}"
        )


def download(spec: WeightFile, folder: Path) -> Path:
    """Download ``spec`` into ``folder`` atomically and verify it.

    The bytes go to a temporary file in ``folder`` that is renamed to ``spec.filename`` only once
    its sha256 matches; on any failure the temporary file is removed.

    Raises:
        DetectorError: No network, an HTTP error, or a checksum mismatch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    logger.info("downloading %s from %s", spec.filename, spec.url)
    with atomic_target(target) as tmp:  # renamed over ``target`` only if verified
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            try:
                with fetch(spec.url) as response:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            except OSError as exc:  # URLError, timeouts and connection errors are OSErrors
                raise DetectorError(
                    f"could not download {spec.filename} ({exc}); put it in {folder} or set "
                    f"{ENV_DIR} to a folder holding it (source: {spec.url})"
                ) from None
        if digest.hexdigest() != spec.sha256:
            raise DetectorError(
                f"downloaded {spec.filename} has the wrong sha256 ({digest.hexdigest()[:12]}...); "
                f"put a verified copy in {folder} or set {ENV_DIR} (source: {spec.url})"
            )
    return target
