"""`nmtkit average`: the mean of a model directory's last checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly


@reports_errors
def average(
    model: Path = typer.Argument(..., help="Model directory trained with train.keep_checkpoints=K."),
    output: Path = typer.Option(..., "--output", "-o", help="The averaged model directory to write."),
    last: int = typer.Option(5, "--last", min=1, help="Average the last K checkpoints."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output directory."),
) -> None:
    """Average the weights of a model's last K checkpoints into a new model directory."""
    import_tensorflow_quietly()
    from nmtkit.averaging import average_checkpoints

    manifest = average_checkpoints(model, output, last, overwrite)
    names = ", ".join(manifest["averaged"]["checkpoints"])
    typer.echo(f"wrote {output}: the mean of {names}", err=True)
