"""Weight resolution order, checksum verification and the (offline, faked) download path."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO

import pytest

from deepverify.errors import DetectorError
from deepverify.faces import available_detectors, create_detector, detector_class, resolve_weights
from deepverify.faces import weights as weights_mod
from deepverify.faces.weights import ENV_DIR, WeightFile, cache_dir, download

WEIGHTS = {name: detector_class(name).weights for name in available_detectors()}


@pytest.fixture()
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env folder, an empty user cache under tmp_path, and a network that fails loudly."""
    monkeypatch.delenv(ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def offline(url: str) -> BinaryIO:
        raise OSError("network disabled in tests")

    monkeypatch.setattr(weights_mod, "fetch", offline)
    return tmp_path / "xdg" / "deepverify" / "detectors"


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """Fake the network: each known URL returns the given bytes; record what was fetched."""
    fetched: list[str] = []

    def fake(url: str) -> BinaryIO:
        fetched.append(url)
        return io.BytesIO(files[url])

    monkeypatch.setattr(weights_mod, "fetch", fake)
    return fetched


def test_pinned_hashes_match_shared_weights(detector_dir: Path) -> None:
    for specs in WEIGHTS.values():
        for spec in specs.values():
            data = (detector_dir / spec.filename).read_bytes()
            assert hashlib.sha256(data).hexdigest() == spec.sha256
            assert spec.url.startswith("https://") and len(spec.url.split("/")) > 5


def test_model_dir_argument_wins(no_env: Path, detector_dir: Path) -> None:
    files = resolve_weights("opencv-ssd", detector_dir)
    assert files == {
        "model": detector_dir / "opencv_face_detector_uint8.pb",
        "config": detector_dir / "opencv_face_detector.pbtxt",
    }


def test_env_dir_used(no_env: Path, detector_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(detector_dir))
    assert resolve_weights("yunet") == {"model": detector_dir / "face_detection_yunet.onnx"}


def test_missing_file_in_model_dir_says_where(no_env: Path, tmp_path: Path) -> None:
    with pytest.raises(
        DetectorError, match=r"face_detection_yunet\.onnx not found in .*put the file"
    ):
        create_detector("yunet", model_dir=tmp_path)


def test_corrupt_file_refused(no_env: Path, tmp_path: Path) -> None:
    (tmp_path / "face_detection_yunet.onnx").write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="sha256"):
        resolve_weights("yunet", tmp_path)


def test_cache_honours_xdg(no_env: Path) -> None:
    assert cache_dir() == no_env


def test_download_into_cache_then_reuse(
    no_env: Path, detector_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = WEIGHTS["yunet"]["model"]
    fetched = _serve(monkeypatch, {spec.url: (detector_dir / spec.filename).read_bytes()})
    detector = create_detector("yunet", rescue=False)
    assert detector.name == "yunet"
    assert (no_env / spec.filename).is_file()
    assert sorted(p.name for p in no_env.iterdir()) == [spec.filename]  # no temp files left
    create_detector("yunet", rescue=False)  # second time: from the cache, no fetch
    assert fetched == [spec.url]


def test_checksum_mismatch_leaves_no_file(no_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = WEIGHTS["yunet"]["model"]
    _serve(monkeypatch, {spec.url: b"tampered bytes"})
    with pytest.raises(DetectorError, match="wrong sha256"):
        resolve_weights("yunet")
    assert list(no_env.iterdir()) == []


def test_interrupted_download_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise TimeoutError("connection reset")

    monkeypatch.setattr(weights_mod, "fetch", lambda url: Broken())
    spec = WeightFile("w.bin", "https://example.invalid/w.bin", "0" * 64)
    with pytest.raises(DetectorError, match=r"could not download w\.bin"):
        download(spec, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_without_weights_says_where_to_put_them(no_env: Path) -> None:
    with pytest.raises(DetectorError, match=rf"could not download .*put it in {no_env}"):
        create_detector("opencv-ssd")


def test_download_from_file_url(tmp_path: Path, detector_dir: Path) -> None:
    # The real fetch function, pointed at a local file: exercises urllib without a network.
    spec = WEIGHTS["opencv-ssd"]["config"]
    local = WeightFile(spec.filename, (detector_dir / spec.filename).as_uri(), spec.sha256)
    path = download(local, tmp_path)
    assert path.read_bytes() == (detector_dir / spec.filename).read_bytes()
