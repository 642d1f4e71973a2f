"""`nmtkit plot`: a model directory's training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmtkit.cli.common import reports_errors


EXAMPLES = """Examples:

\b
  nmtkit plot runs/demo-dates/model          # MODEL_DIR/curves.png
  nmtkit plot runs/demo-dates/model -o curves.png
"""


@reports_errors
def plot(
    model: Path = typer.Argument(..., metavar="MODEL_DIR", help="Model directory written by `train`."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="PNG",
                                          help="PNG to write. Default: MODEL_DIR/curves.png."),
) -> None:
    """Plot a model directory's training and validation curves."""
    from nmtkit.curves import plot_curves

    typer.echo(f"wrote {plot_curves(model, output)}", err=True)
