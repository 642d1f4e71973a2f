"""`nmtkit plot`: a model directory's training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmtkit.cli.common import reports_errors


@reports_errors
def plot(
    model: Path = typer.Argument(..., help="Model directory written by `train`."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="PNG to write. Default: MODEL/curves.png."),
) -> None:
    """Plot the training and validation curves of a model directory."""
    from nmtkit.curves import plot_curves

    typer.echo(f"wrote {plot_curves(model, output)}", err=True)
