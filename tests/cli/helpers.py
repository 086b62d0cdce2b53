"""What every CLI test checks of a failed command: one line, no traceback."""

from __future__ import annotations

from click.testing import Result

from deepverify.cli.common import ERROR_PREFIX, WARNING_PREFIX


def one_line_error(result: Result) -> str:
    """The one line a failed command printed, after checking that it is all it printed.

    A command that fails exits with status 1 and writes one line to stderr,
    ``error: <what was wrong and what to do>``, besides any ``warning:`` lines; never a traceback.
    """
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(WARNING_PREFIX)]
    assert len(said) == 1 and said[0].startswith(ERROR_PREFIX), result.stderr
    return said[0]
