"""`nmtkit info`: what a model directory holds, at a glance."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly

EXAMPLES = """Examples:

\b
  nmtkit info runs/demo-dates/model
  nmtkit info runs/demo-dates/model --json | jq .training.best
"""


@reports_errors
def info(
    model: Path = typer.Argument(..., metavar="MODEL_DIR", help="Model directory written by `train`."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON, for scripts."),
) -> None:
    """Show what a model directory holds.

    The recipe in brief (levels, vocabularies, architecture), parameters per component,
    training (steps, epochs, time, tokens/s, precision, best validation figures), checkpoints
    kept, and files with their sizes.
    """
    import_tensorflow_quietly()  # the parameters per component come from the model, built
    from nmtkit.model_info import describe_model_dir, format_info

    described = describe_model_dir(model)
    typer.echo(json.dumps(described, indent=2) if as_json else format_info(described), nl=as_json)
