"""Read and validate a file's C2PA manifest store with the C2PA library (``c2pa-python``).

Reading never fails the analysis: a manifest the library cannot read, an oversized one, or a
container it does not support gives an ``unreadable`` section with a one-line reason. Nothing is
fetched from the network (no OCSP, no remote manifests), so a hostile file cannot make the server
call out.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

from deepverify.errors import ConfigError
from deepverify.provenance.schema import (
    AI_SOURCE_TYPES,
    ContentCredentials,
    CredentialsStatus,
    Ingredient,
    ProvenanceAction,
    Signer,
    ValidationCode,
)
from deepverify.video import isobmff

logger = logging.getLogger(__name__)

# A PEM bundle of the root certificates whose signers count as trusted (the operator's choice,
# e.g. the C2PA trust list). Without one, every intact signature reads as "untrusted_signer".
TRUST_ANCHORS_ENV = "DEEPVERIFY_C2PA_TRUST_ANCHORS"

# Real manifests are kilobytes (a thumbnail makes them a few hundred); more is hostile.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# What the C2PA library is given of an ISO BMFF file. Its reading time grows with the square of
# the number of boxes side by side in one box (measured: 30,000 empty boxes at the top 9 s,
# 100,000 boxes 110 s) and by about 9 microseconds a box in all. So the sum over every level of
# its boxes squared is bounded, as if 20,000 lay side by side (about 4 s), and so is the total.
# Real files have dozens of boxes; a fragmented recording about seven per fragment, two of them
# at the top (an hour cut every half second: 14,400 at the top, 50,000 in all, read in 3.8 s).
MAX_BOXES = 200_000
MAX_CROWDING = 20_000**2
# Caps on what the report copies from a manifest, so a hostile one cannot bloat the report.
MAX_ITEMS = 50
MAX_TEXT = 300

# Failure codes meaning the signed content no longer matches its hash: changed after signing.
CONTENT_CHANGED_CODES = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
    }
)

_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the BMFF box holding C2PA
_RIFF_C2PA_CHUNK = b"C2PA"  # the RIFF chunk holding C2PA


def trust_anchors_from_env() -> str | None:
    """The PEM text named by ``DEEPVERIFY_C2PA_TRUST_ANCHORS``, or ``None`` when unset.

    Raises:
        ConfigError: The variable names a file that cannot be read.
    """
    location = os.environ.get(TRUST_ANCHORS_ENV)
    if not location:
        return None
    try:
        return Path(location).read_text(encoding="ascii")
    except (OSError, UnicodeError) as exc:
        raise ConfigError(
            f"{TRUST_ANCHORS_ENV}={location} is not a readable PEM file ({exc}); "
            "fix the path or unset it"
        ) from exc


@functools.lru_cache(maxsize=4)
def _context(trust_anchors: str | None) -> Any:
    import c2pa

    settings: dict[str, Any] = {
        "verify": {"verify_trust": True, "ocsp_fetch": False, "remote_manifest_fetch": False}
    }
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context.from_dict(settings)


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:MAX_TEXT]


def _one_line(message: str) -> str:
    return " ".join(message.split())[:MAX_TEXT] or "unknown error"


def refusal(path: Path) -> str | None:
    """Why ``path`` is not given to the C2PA library, or None: it may read it.

    A manifest store over :data:`MAX_MANIFEST_BYTES`; more than :data:`MAX_BOXES` boxes or
    chunks, or boxes crowded beyond :data:`MAX_CROWDING`. ISO BMFF files (MP4, QuickTime, HEIF)
    and RIFF files (AVI, WAV, WebP) are recognised by their content, never by their name: the
    service stores uploads without a suffix, and the C2PA library sniffs the content too. The
    walk costs nothing on real files (a few reads) and at most about :data:`MAX_BOXES` reads on
    hostile ones.
    """
    end = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) == 12 and head[:4] == b"RIFF":
            return _riff_refusal(handle, end)
        if isobmff.is_bmff(head):
            return _bmff_refusal(handle, end)
    return None


def _too_large(size: int) -> str:
    limit = MAX_MANIFEST_BYTES // 2**20
    return f"the manifest store is {size / 2**20:.0f} MiB, over the {limit} MiB limit"


def _too_many(what: str) -> str:
    return f"the file holds over {MAX_BOXES:,} {what}, more than the C2PA reader is given"


def _bmff_refusal(handle: BinaryIO, end: int) -> str | None:
    found = isobmff.census(handle, end, limit=MAX_BOXES)
    if found.total > MAX_BOXES:
        return _too_many("boxes")
    if found.crowding > MAX_CROWDING:
        side = f"{math.isqrt(MAX_CROWDING):,}"
        return f"the file holds more boxes side by side than the C2PA reader is given ({side})"
    for box in isobmff.boxes(handle, 0, end):
        if box.kind == b"uuid" and box.size > MAX_MANIFEST_BYTES:
            handle.seek(box.body)
            if handle.read(16) == _C2PA_UUID:
                return _too_large(box.size)
    return None


def _riff_refusal(handle: BinaryIO, end: int) -> str | None:
    offset, count = 12, 0  # "RIFF", its size, the form type ("AVI ", "WAVE", "WEBP")
    while offset + 8 <= end:
        count += 1
        if count > MAX_BOXES:
            return _too_many("chunks")
        handle.seek(offset)
        kind, size = struct.unpack("<4sI", handle.read(8))
        if kind == _RIFF_C2PA_CHUNK and size > MAX_MANIFEST_BYTES:
            return _too_large(size)
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


def _classify(state: str | None, failures: set[str]) -> CredentialsStatus:
    if failures & CONTENT_CHANGED_CODES:
        return "content_changed"
    if state == "Trusted":
        return "valid"
    if state == "Valid":
        return "untrusted_signer"
    return "signature_invalid"


def _codes(store: dict[str, Any]) -> list[ValidationCode]:
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {}
    codes: list[ValidationCode] = []
    for kind in ("failure", "informational"):
        for entry in active.get(kind) or []:
            codes.append(
                ValidationCode(
                    code=_text(entry.get("code")) or "unknown",
                    kind=kind,
                    explanation=_text(entry.get("explanation")),
                )
            )
    for entry in store.get("validation_status") or []:  # older stores keep failures only here
        code = _text(entry.get("code")) or "unknown"
        if all(c.code != code for c in codes):
            codes.append(
                ValidationCode(
                    code=code, kind="failure", explanation=_text(entry.get("explanation"))
                )
            )
    return codes[:MAX_ITEMS]


def _generator(manifest: dict[str, Any]) -> str | None:
    for info in manifest.get("claim_generator_info") or []:
        if isinstance(info, dict) and info.get("name"):
            version = info.get("version")
            return _text(f"{info['name']} {version}" if version else info["name"])
    return _text(manifest.get("claim_generator"))


def _short_source_type(value: object) -> str | None:
    text = _text(value)
    return text.rstrip("/").rsplit("/", 1)[-1] if text else None


def _actions(manifest: dict[str, Any]) -> list[ProvenanceAction]:
    actions = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for item in (assertion.get("data") or {}).get("actions") or []:
            agent = item.get("softwareAgent")
            actions.append(
                ProvenanceAction(
                    action=_text(item.get("action")) or "unknown",
                    digital_source_type=_short_source_type(item.get("digitalSourceType")),
                    software_agent=_text(agent.get("name") if isinstance(agent, dict) else agent),
                    when=_text(item.get("when")),
                )
            )
    return actions[:MAX_ITEMS]


def _ingredients(manifest: dict[str, Any]) -> list[Ingredient]:
    return [
        Ingredient(
            title=_text(item.get("title")),
            format=_text(item.get("format")),
            relationship=_text(item.get("relationship")),
            has_credentials=bool(item.get("active_manifest") or item.get("manifest_data")),
        )
        for item in (manifest.get("ingredients") or [])[:MAX_ITEMS]
    ]


def _signer(manifest: dict[str, Any]) -> Signer | None:
    info = manifest.get("signature_info")
    if not isinstance(info, dict):
        return None
    return Signer(
        subject=_text(info.get("common_name")),
        issuer=_text(info.get("issuer")),
        serial_number=_text(info.get("cert_serial_number")),
        algorithm=_text(info.get("alg")),
    )


def parse_store(store: dict[str, Any], state: str | None) -> ContentCredentials:
    """Turn the library's manifest-store JSON and validation state into the report section."""
    manifests = store.get("manifests") or {}
    manifest = manifests.get(store.get("active_manifest")) or {}
    codes = _codes(store)
    actions = _actions(manifest)
    source_types = [t for t in dict.fromkeys(a.digital_source_type for a in actions) if t]
    return ContentCredentials(
        status=_classify(state, {c.code for c in codes if c.kind == "failure"}),
        validation_state=_text(state),
        validation_codes=codes,
        signer=_signer(manifest),
        claim_generator=_generator(manifest),
        signed_at=_text((manifest.get("signature_info") or {}).get("time")),
        title=_text(manifest.get("title")),
        actions=actions,
        digital_source_types=source_types,
        declares_ai=any(t in AI_SOURCE_TYPES for t in source_types),
        ingredients=_ingredients(manifest),
        manifests=len(manifests),
    )


def unreadable(reason: str) -> ContentCredentials:
    """The section for a manifest that could not be read."""
    return ContentCredentials(status="unreadable", reason=_one_line(reason))


def read_credentials(path: Path, *, trust_anchors: str | None = None) -> ContentCredentials:
    """Read and validate the C2PA manifest store of ``path``; never raises for a bad manifest.

    Args:
        path: The media file.
        trust_anchors: PEM root certificates whose signers are trusted; ``None`` trusts none.
    """
    import c2pa

    try:
        reason = refusal(path)
        if reason is not None:
            return unreadable(reason)
        reader = c2pa.Reader.try_create(str(path), context=_context(trust_anchors))
        if reader is None:
            return ContentCredentials(status="absent")
        with reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
        return parse_store(store, state)
    except c2pa.C2paError as exc:
        if isinstance(exc, c2pa.C2paError.NotSupported):
            return unreadable(f"the C2PA library cannot read {path.suffix or 'this'} files")
        return unreadable(str(exc))
    except (OSError, ValueError, AttributeError, TypeError, struct.error) as exc:
        # ValueError covers bad JSON and pydantic's ValidationError; Attribute/TypeError a store
        # whose shape is not the one documented (hostile input must not fail the analysis).
        logger.debug("C2PA manifest of %s unreadable: %s", path.name, type(exc).__name__)
        return unreadable(f"malformed manifest store ({type(exc).__name__})")
