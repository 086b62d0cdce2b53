"""The commands share their common options: the same flag has the same help and choices."""

from __future__ import annotations

import typer

from deepverify.cli.app import app
from deepverify.engine import ENGINES
from deepverify.faces import available_detectors

SHARED = ("model", "engine", "device", "detector", "frames", "as_json", "verbose")
# The commands that analyse videos with a model (extract's --detector builds a training cache).
ANALYSING = ("scan", "evaluate", "serve", "worker")


def _params() -> dict[str, dict[str, object]]:
    group = typer.main.get_command(app)
    found: dict[str, dict[str, object]] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if name not in (*ANALYSING, "provenance"):
            continue
        for param in command.params:
            found.setdefault(param.name, {})[name] = param
    return found


def test_each_shared_option_is_declared_once():
    params = _params()
    for option in SHARED:
        declared = params[option]
        assert len(declared) >= 2, (option, sorted(declared))
        shapes = {
            (tuple(p.opts), p.help, p.type_descriptor.annotation, p.min, p.max)
            for p in declared.values()
        }
        assert len(shapes) == 1, (option, shapes)
    for command in ANALYSING:
        assert command in params["engine"] and command in params["verbose"]


def test_choices_come_from_the_registries():
    params = _params()
    engines = params["engine"]["scan"].type_descriptor.annotation
    detectors = params["detector"]["evaluate"].type_descriptor.annotation
    assert [e.value for e in engines] == list(ENGINES)
    assert [d.value for d in detectors] == available_detectors()
