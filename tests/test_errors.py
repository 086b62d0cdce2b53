"""The one helper that turns a third-party error into a one-line reason."""

from __future__ import annotations

import pytest

from deepverify.errors import one_line


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RuntimeError("first\nsecond\nthird"), "first"),
        (RuntimeError("\n  \n  indented first  \nsecond"), "indented first"),
        (ValueError(), "ValueError"),
        (KeyError(), "KeyError"),
        ("a message\nwith detail", "a message"),
        ("", "unknown error"),
    ],
)
def test_one_line_keeps_the_first_nonempty_line(error: BaseException | str, expected: str) -> None:
    assert one_line(error) == expected
