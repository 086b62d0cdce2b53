"""Container metadata: verification hints kept, location kept apart and never logged."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest

from deepverify.provenance import read_provenance
from deepverify.provenance.container import read_container_metadata
from tests.provenance.signing import SignedClips
from tests.videos import frame_image

PLACE = "+48.8584+002.2945/"


def _tagged_clip(path: Path) -> Path:
    """A 5-frame MP4 with phone-style QuickTime tags, a location among them."""
    tags = {
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 15",
        "com.apple.quicktime.software": "17.1",
        "com.apple.quicktime.location.ISO6709": PLACE,
        "creation_time": "2026-01-02T03:04:05.000000Z",
        "title": "not a hint",
    }
    with av.open(str(path), "w", format="mp4", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update(tags)
        stream = out.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["handler_name"] = "Core Media Video"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 64, 48), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_hints_and_location_are_read_apart(tmp_path: Path) -> None:
    meta = read_container_metadata(_tagged_clip(tmp_path / "phone.mp4"))
    assert meta.status == "read"
    assert meta.format and "mp4" in meta.format
    hints = {(h.label, h.value) for h in meta.hints}
    assert ("Device make", "Apple") in hints
    assert ("Device model", "iPhone 15") in hints
    assert ("Device software", "17.1") in hints
    assert ("Handler name", "Core Media Video") in hints
    assert any(h.label == "Creation time" for h in meta.hints)
    assert all(h.key != "title" for h in meta.hints)  # not a verification hint
    assert [t.value for t in meta.location] == [PLACE]
    assert all(PLACE not in h.value for h in meta.hints)


def test_location_is_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clip = _tagged_clip(tmp_path / "phone.mp4")
    caplog.set_level(logging.DEBUG)
    report = read_provenance(clip, trust_anchors="")
    assert report.container.location  # the owner gets it in the report...
    assert PLACE not in caplog.text  # ...and no log line carries it
    assert "48.85" not in caplog.text


def test_real_clip_hints(real_clip: Path) -> None:
    meta = read_container_metadata(real_clip)
    assert meta.status == "read"
    assert {h.label for h in meta.hints} >= {"Encoder", "Handler name"}
    assert meta.location == []


def test_reading_provenance_leaves_numpy_unimported(c2pa_clips: SignedClips) -> None:
    # NumPy alone costs more than reading a clip's provenance (bench: provenance_seconds).
    code = (
        "import sys; from pathlib import Path; from deepverify.provenance import read_provenance; "
        "found = read_provenance(Path(sys.argv[1]), trust_anchors=''); "
        "print(found.content_credentials.status, found.container.status, 'numpy' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(c2pa_clips.ai)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["untrusted_signer", "read", "False"]
