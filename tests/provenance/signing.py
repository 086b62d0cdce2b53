"""Make C2PA test fixtures at test time: a certificate chain and clips signed with it.

The chain is a root CA and an end-entity signing certificate with the key usages C2PA requires
(digitalSignature, emailProtection extended usage, not a CA). A test-made root is "untrusted"
unless it is passed to the reader as a trust anchor.
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNER_NAME = "Deepverify Test Signer"
ISSUER_ORG = "Deepverify Test CA"
GENERATOR = "TestGenerator"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class Chain:
    """PEM texts of a test certificate chain."""

    root: str
    chain: str  # signing certificate, then the root
    key: str


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=sign_certs,
        crl_sign=sign_certs, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def make_chain() -> Chain:
    """A fresh root CA and a signing certificate it issued (ES256 keys, valid for 30 days)."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Deepverify Test Root"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER_ORG),
        ]
    )
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, SIGNER_NAME),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER_ORG),
                ]
            )
        )
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Chain(
        root=root.public_bytes(pem).decode(),
        chain=(leaf.public_bytes(pem) + root.public_bytes(pem)).decode(),
        key=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


def sign_clip(source: Path, target: Path, chain: Chain, *, source_type: str = TRAINED) -> Path:
    """Copy ``source`` (an MP4) to ``target`` with a signed manifest: one c2pa.created action."""
    manifest = {
        "claim_generator_info": [{"name": GENERATOR, "version": "1.0"}],
        "title": target.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, chain.chain.encode(), chain.key.encode(), None
    )
    with (
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(manifest) as builder,
        source.open("rb") as src,
        target.open("w+b") as dst,
    ):
        builder.sign(signer, "video/mp4", src, dst)
    return target


def change_after_signing(signed: Path, target: Path) -> Path:
    """A copy of a signed MP4 with media bytes flipped (in ``mdat``) after signing."""
    data = bytearray(signed.read_bytes())
    at = data.index(b"mdat") + 2000
    data[at : at + 16] = bytes(b ^ 0xFF for b in data[at : at + 16])
    target.write_bytes(bytes(data))
    return target


def corrupt_manifest(signed: Path, target: Path) -> Path:
    """A copy of a signed MP4 whose manifest bytes are overwritten (malformed JUMBF)."""
    data = bytearray(signed.read_bytes())
    at = data.index(b"c2pa") + 100
    data[at : at + 300] = b"A" * 300
    target.write_bytes(bytes(data))
    return target


def copy_unsigned(source: Path, target: Path) -> Path:
    """A plain copy: no Content Credentials."""
    shutil.copyfile(source, target)
    return target


@dataclass(frozen=True)
class SignedClips:
    """One clip in every provenance state, and the root that makes its signer trusted."""

    chain: Chain
    ai: Path  # signed, c2pa.created + trainedAlgorithmicMedia
    capture: Path  # signed, c2pa.created + digitalCapture
    changed: Path  # ``ai`` with media bytes changed after signing
    corrupt: Path  # ``ai`` with its manifest overwritten
    unsigned: Path


def make_signed_clips(source: Path, folder: Path) -> SignedClips:
    """Sign ``source`` (an MP4) into every state the provenance section reports."""
    folder.mkdir(parents=True, exist_ok=True)
    chain = make_chain()
    ai = sign_clip(source, folder / "ai.mp4", chain)
    return SignedClips(
        chain=chain,
        ai=ai,
        capture=sign_clip(source, folder / "capture.mp4", chain, source_type=CAPTURE),
        changed=change_after_signing(ai, folder / "changed.mp4"),
        corrupt=corrupt_manifest(ai, folder / "corrupt.mp4"),
        unsigned=copy_unsigned(source, folder / "unsigned.mp4"),
    )
