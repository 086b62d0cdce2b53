"""Tests that need an outside program: skip without it, fail without it in CI.

``.ci/run`` installs every program the tests use and sets ``DEEPVERIFY_REQUIRE_SERVICES=1``; there
a missing one is a failure, so that a broken install cannot pass as a row of skips.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def services_required() -> bool:
    """Whether a missing service or program fails the test (CI) instead of skipping it."""
    return os.environ.get("DEEPVERIFY_REQUIRE_SERVICES") == "1"


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it under ``DEEPVERIFY_REQUIRE_SERVICES=1``."""
    if services_required():
        pytest.fail(f"{reason} but DEEPVERIFY_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def need_program(name: str, *, package: str) -> str:
    """The path of program ``name`` (Debian package ``package``); see :func:`missing`."""
    path = shutil.which(name)
    if path is None:
        missing(f"the {name} program is missing (apt-get install {package})")
    return path
