"""Content Credentials: every validation state, read from clips signed at test time."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from deepverify.errors import ConfigError
from deepverify.provenance import decisive_ai_declaration, read_provenance
from deepverify.provenance.credentials import (
    MAX_MANIFEST_BYTES,
    TRUST_ANCHORS_ENV,
    parse_store,
    refusal,
)
from tests.provenance.signing import GENERATOR, ISSUER_ORG, SIGNER_NAME, SignedClips


def test_unsigned_clip_is_absent_and_proves_nothing(c2pa_clips: SignedClips) -> None:
    p = read_provenance(c2pa_clips.unsigned)
    assert p.content_credentials.status == "absent"
    assert p.content_credentials.signer is None
    assert "proves nothing" in p.summary
    assert not decisive_ai_declaration(p)


def test_test_made_root_is_an_untrusted_signer(c2pa_clips: SignedClips) -> None:
    c = read_provenance(c2pa_clips.ai, trust_anchors="").content_credentials
    assert c.status == "untrusted_signer"
    assert c.validation_state == "Valid"
    assert "signingCredential.untrusted" in {
        v.code for v in c.validation_codes if v.kind == "failure"
    }
    assert c.signer is not None and c.signer.subject == SIGNER_NAME
    assert c.declares_ai  # the signer's claim is reported...
    assert not decisive_ai_declaration(read_provenance(c2pa_clips.ai, trust_anchors=""))  # ...only


def test_trusted_root_makes_the_manifest_valid(c2pa_clips: SignedClips) -> None:
    p = read_provenance(c2pa_clips.ai, trust_anchors=c2pa_clips.chain.root)
    c = p.content_credentials
    assert c.status == "valid"
    assert c.validation_state == "Trusted"
    assert not [v for v in c.validation_codes if v.kind == "failure"]
    assert c.signer is not None
    assert (c.signer.subject, c.signer.issuer) == (SIGNER_NAME, ISSUER_ORG)
    assert c.claim_generator == f"{GENERATOR} 1.0"
    assert [(a.action, a.digital_source_type) for a in c.actions] == [
        ("c2pa.created", "trainedAlgorithmicMedia")
    ]
    assert c.digital_source_types == ["trainedAlgorithmicMedia"]
    assert c.manifests == 1
    assert decisive_ai_declaration(p)
    assert p.summary.startswith(f"Signed by {SIGNER_NAME} with {GENERATOR} 1.0")
    assert "the signer says it was made with AI" in p.summary


def test_trust_anchors_come_from_the_environment(
    c2pa_clips: SignedClips, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(c2pa_clips.chain.root)
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(anchors))
    assert read_provenance(c2pa_clips.ai).content_credentials.status == "valid"
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=TRUST_ANCHORS_ENV):
        read_provenance(c2pa_clips.ai)


def test_capture_manifest_declares_no_ai(c2pa_clips: SignedClips) -> None:
    p = read_provenance(c2pa_clips.capture, trust_anchors=c2pa_clips.chain.root)
    assert p.content_credentials.status == "valid"
    assert p.content_credentials.digital_source_types == ["digitalCapture"]
    assert not decisive_ai_declaration(p)
    assert "AI" not in p.summary


@pytest.mark.parametrize("trusted", [True, False])
def test_bytes_changed_after_signing(c2pa_clips: SignedClips, trusted: bool) -> None:
    anchors = c2pa_clips.chain.root if trusted else ""
    p = read_provenance(c2pa_clips.changed, trust_anchors=anchors)
    c = p.content_credentials
    assert c.status == "content_changed"
    assert c.validation_state == "Invalid"
    assert "assertion.bmffHash.mismatch" in {v.code for v in c.validation_codes}
    assert p.summary == "Content Credentials present, but the video was changed after signing."
    assert not decisive_ai_declaration(p)


def test_corrupt_manifest_is_unreadable_with_a_reason(c2pa_clips: SignedClips) -> None:
    p = read_provenance(c2pa_clips.corrupt, trust_anchors=c2pa_clips.chain.root)
    c = p.content_credentials
    assert c.status == "unreadable"
    assert c.reason and "\n" not in c.reason
    assert p.summary.startswith("Content Credentials unreadable: ")
    assert p.container.status == "read"  # the rest of the section still comes through


def test_signature_failure_is_signature_invalid() -> None:
    store = {
        "active_manifest": "m",
        "manifests": {"m": {"signature_info": {"common_name": "X"}}},
        "validation_results": {
            "activeManifest": {"failure": [{"code": "claimSignature.mismatch"}]}
        },
    }
    c = parse_store(store, "Invalid")
    assert c.status == "signature_invalid"
    assert [v.code for v in c.validation_codes] == ["claimSignature.mismatch"]


def test_hostile_store_shapes_are_capped_or_unreadable() -> None:
    actions = [{"action": "c2pa.edited" * 100, "softwareAgent": {"name": "x"}}] * 500
    store = {
        "active_manifest": "m",
        "manifests": {
            "m": {"assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}
        },
    }
    c = parse_store(store, "Valid")
    assert len(c.actions) == 50
    assert len(c.actions[0].action) == 300


def test_oversized_manifest_box_is_refused_unread(tmp_path: Path) -> None:
    clip = tmp_path / "huge.mp4"
    size = MAX_MANIFEST_BYTES + 1024
    uuid = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
    with clip.open("wb") as out:
        out.write(struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00")
        out.write(struct.pack(">I4s", size, b"uuid") + uuid)
        out.truncate(16 + size)  # sparse: no need to write the bytes
    assert refusal(clip) == f"the manifest store is {size / 2**20:.0f} MiB, over the 16 MiB limit"
    c = read_provenance(clip, trust_anchors="").content_credentials
    assert c.status == "unreadable"
    assert c.reason is not None and "limit" in c.reason


@pytest.mark.parametrize("form", ["bmff", "riff"])
def test_oversized_manifest_is_found_by_content_in_a_file_without_suffix(
    tmp_path: Path, form: str
) -> None:
    # The service stores uploads under generated names without a suffix: the name says nothing.
    stored = tmp_path / "0123456789abcdef"
    size = MAX_MANIFEST_BYTES + 1024
    with stored.open("wb") as out:
        if form == "bmff":
            out.write(struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00")
            out.write(struct.pack(">I4s", 8 + 16 + size, b"uuid"))
            out.write(bytes.fromhex("d8fec3d61b0e483c92975828877ec481"))
        else:
            out.write(b"RIFF" + struct.pack("<I", 4 + 8 + size) + b"AVI ")
            out.write(b"C2PA" + struct.pack("<I", size))
        out.truncate(out.tell() + size)  # sparse: no need to write the bytes
    assert refusal(stored) is not None and refusal(stored).endswith("over the 16 MiB limit")
    c = read_provenance(stored, trust_anchors="").content_credentials
    assert c.status == "unreadable"
    assert c.reason is not None and "limit" in c.reason


def test_the_manifest_check_goes_by_content_not_by_suffix(tmp_path: Path) -> None:
    named = tmp_path / "clip.mp4"
    named.write_bytes(b"RIFF" + bytes(60))
    assert refusal(named) is None


def test_not_a_video_is_unreadable_not_an_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 64)
    p = read_provenance(junk, trust_anchors="")
    assert p.content_credentials.status in {"unreadable", "absent"}
    assert p.container.status == "unreadable"
