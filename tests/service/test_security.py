"""Password hashing: production hashes at full argon2id cost; tests may swap in a cheap hasher."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher, Type

from deepverify.service.core import security

PRODUCTION_PREFIX = "$argon2id$v=19$m=65536,t=3,p=4$"


def test_production_hashes_at_full_cost() -> None:
    """A fresh process (no test fixtures) hashes with 3 passes over 64 MiB on 4 lanes."""
    code = "from deepverify.service.core.security import hash_password; print(hash_password('x'))"
    hashed = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    assert hashed.startswith(PRODUCTION_PREFIX), hashed


def test_cheap_hasher_is_swapped_in_and_out() -> None:
    """The service tests run with cheap parameters; None restores production, and hashes made by
    either hasher verify under the other (the parameters travel in the hash)."""
    cheap = security.hash_password("correct horse battery")
    assert cheap.startswith("$argon2id$") and not cheap.startswith(PRODUCTION_PREFIX)
    assert security.verify_password("correct horse battery", cheap)
    previous = security._hasher
    try:
        security.use_password_hasher(None)
        strong = security.hash_password("correct horse battery")
        assert strong.startswith(PRODUCTION_PREFIX)
        assert security.verify_password("correct horse battery", cheap)
        assert not security.verify_password("wrong", None)
        assert security._dummy_hash().startswith(PRODUCTION_PREFIX)
    finally:
        security.use_password_hasher(previous)
    assert security.verify_password("correct horse battery", strong)
    assert not security._dummy_hash().startswith(PRODUCTION_PREFIX)


def test_only_argon2id_hashers_are_accepted() -> None:
    with pytest.raises(ValueError, match="the password hasher must use argon2id, not I"):
        security.use_password_hasher(PasswordHasher(type=Type.I))
