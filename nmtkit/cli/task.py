"""`nmtkit task`: evaluate an algorithmic task's model, plot an NTM's heads."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly

task_app = typer.Typer(help="Algorithmic tasks (copy, repeat copy, associative recall): evaluate "
                            "a model, plot an NTM's heads. Train with `nmtkit train recipes/copy-ntm.yaml`.",
                       no_args_is_help=True)


@task_app.command("evaluate")
@reports_errors
def task_evaluate(
    model: Path = typer.Argument(..., help="Model directory trained on an algorithmic task."),
    lengths: str = typer.Option("10,20,30,40,60,80,120", "--lengths",
                                help="Comma-separated test lengths (associative_recall: items)."),
    sequences: int = typer.Option(100, "--sequences", min=1, help="Random sequences per length."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the test sequences."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Mean bit errors and cost (bits) per sequence, and perfect sequences, at each length."""
    from nmtkit.errors import UsageError

    try:
        wanted = [int(n) for n in lengths.split(",")]
    except ValueError:
        wanted = []
    if not wanted or min(wanted) < 1:
        raise UsageError(f"--lengths must be comma-separated integers >= 1, got {lengths!r}")
    import_tensorflow_quietly()
    from nmtkit.task_training import evaluate, load_task_model

    recipe, network = load_task_model(model)
    rows = evaluate(recipe, network, wanted, sequences, seed)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'length':>6} {'bit errors':>10} {'bits':>9} {'perfect %':>9}")
    for r in rows:
        typer.echo(f"{r['length']:>6} {r['bit_errors']:>10.2f} {r['bits']:>9.2f} {r['perfect']:>9.0f}")


@task_app.command("heads")
@reports_errors
def task_heads(
    model: Path = typer.Argument(..., help="Model directory trained on an algorithmic task (model.type ntm)."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG to write."),
    length: int = typer.Option(20, "--length", min=1, help="Length of the example (associative_recall: items)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the example."),
) -> None:
    """Plot an NTM's write and read weightings over time on one random example."""
    import_tensorflow_quietly()
    import numpy as np

    from nmtkit.errors import UsageError
    from nmtkit.ntm_heads import plot_heads, trace_heads
    from nmtkit.task_training import load_task_model, make_task

    recipe, network = load_task_model(model)
    try:
        batch = make_task(recipe).batch(np.random.default_rng(seed), 1, length)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"wrote {plot_heads(output, batch, *trace_heads(network, batch.inputs))}", err=True)
