"""The ``deepverify`` Typer application: one command per module, each imported when it runs.

A command's module (and what it imports at the top: rich tables, the detector registry, the
dataset loaders) loads only when that command is asked for, so ``deepverify provenance`` does
not pay for ``scan``'s or ``model``'s imports. ``--help`` lists every command and so loads them
all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

COMMANDS: dict[str, str] = {
    "scan": "deepverify.cli.scan:scan",
    "provenance": "deepverify.cli.provenance:provenance",
    "extract": "deepverify.cli.extract:extract",
    "train": "deepverify.cli.train:train",
    "evaluate": "deepverify.cli.evaluate:evaluate",
    "serve": "deepverify.cli.serve:serve",
    "worker": "deepverify.cli.worker:worker",
    "live": "deepverify.cli.live:live",
    "db": "deepverify.cli.db:app",
    "model": "deepverify.cli.model:app",
}
"""Command name -> ``module:attribute``: a command function, or a Typer app for a group."""


def load_command(name: str, target: str) -> Any:
    """The Click command ``target`` (``module:attribute``) builds, named ``name``."""
    module, attribute = target.split(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        command = typer.main.get_command(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Commands(MutableMapping[str, Any]):
    """The group's commands by name, each built on first access (Click reads ``commands``)."""

    def __init__(self, targets: dict[str, str]) -> None:
        self._targets = targets
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = load_command(name, self._targets[name])
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._built.pop(name, None)
        self._targets.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**self._targets, **self._built})

    def __len__(self) -> int:
        return len({**self._targets, **self._built})


class LazyGroup(TyperGroup):
    """A Typer group whose commands are :data:`COMMANDS`, imported when first used."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(dict(COMMANDS))


app = typer.Typer(
    name="deepverify",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def deepverify() -> None:
    """Deepfake video detection with calibrated verdicts and heatmaps."""
    # The callback makes the app a group (its help is this docstring); LazyGroup adds commands.


def main() -> None:
    """Console-script entry point."""
    app()
