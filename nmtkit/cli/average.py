"""`nmtkit average`: the mean of a model directory's last checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from nmtkit.cli.common import QuietOption, reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly


EXAMPLES = """Examples:

\b
  nmtkit average runs/de-en/model -o runs/de-en/avg5 --last 5
"""


@reports_errors
def average(
    model: Path = typer.Argument(..., metavar="MODEL_DIR",
                                 help="Model directory trained with train.keep_checkpoints=K."),
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="The averaged model directory to write."),
    last: int = typer.Option(5, "--last", metavar="K", min=1, help="Average the last K checkpoints."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output directory."),
    quiet: bool = QuietOption,
) -> None:
    """Average a model's last K checkpoints into a new model."""
    import_tensorflow_quietly()
    from nmtkit.averaging import average_checkpoints
    from nmtkit.progress import WorkProgress

    with WorkProgress(quiet) as progress:
        manifest = average_checkpoints(model, output, last, overwrite, progress)
    names = ", ".join(manifest["averaged"]["checkpoints"])
    typer.echo(f"wrote {output}: the mean of {names}", err=True)
