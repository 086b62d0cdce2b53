"""Helpers shared by the CLI commands: one-line errors and a shared console."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from deepverify.errors import DeepverifyError

console = Console()
err_console = Console(stderr=True)

ERROR_PREFIX = "error:"
"""How the one line of a failed command starts (on stderr)."""
WARNING_PREFIX = "warning:"
"""How a warning line starts (on stderr)."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with ``code``."""
    # escape(): messages hold paths and "pkg[extra]" text that rich would read as markup.
    err_console.print(
        f"[bold red]{ERROR_PREFIX}[/] {escape(message)}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors (and Ctrl-C) into one-line messages and a non-zero exit."""
    try:
        yield
    except DeepverifyError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", code=130)


def setup_logging(verbose: bool) -> None:
    """Route library logging to stderr; quiet unless ``--verbose``."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def warn(message: str) -> None:
    """Print a one-line warning to stderr."""
    err_console.print(
        f"[bold yellow]{WARNING_PREFIX}[/] {escape(message)}", highlight=False, soft_wrap=True
    )
