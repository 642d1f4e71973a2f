"""`nmtkit task`: evaluate an algorithmic task's model, plot an NTM's heads."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly

task_app = typer.Typer(help="Algorithmic tasks: evaluate a model, plot an NTM's heads.\n\n"
                            "Tasks: copy, repeat copy, associative recall. Train with "
                            "`nmtkit train recipes/copy-ntm.yaml`.",
                       no_args_is_help=True)


@task_app.command("evaluate", epilog="Example:\n\n\b\n  nmtkit task evaluate runs/copy-ntm --lengths 10,20,40,80\n")
@reports_errors
def task_evaluate(
    model: Path = typer.Argument(..., metavar="MODEL_DIR", help="Model directory trained on an algorithmic task."),
    lengths: str = typer.Option("10,20,30,40,60,80,120", "--lengths", metavar="LIST",
                                help="Test lengths, comma-separated (associative_recall: items)."),
    repeats: str = typer.Option(None, "--repeats", metavar="LIST",
                                help="repeat_copy: repeat counts, comma-separated; every length is tested "
                                     "with each (default: counts drawn from the training range)."),
    sequences: int = typer.Option(100, "--sequences", metavar="N", min=1, help="Random sequences per length."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Random seed of the test sequences."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Bit errors, cost and perfect sequences by length.

    Mean bit errors and cost (bits) per sequence, and the share of perfect sequences.
    """
    wanted, counts = _positive_integers(lengths, "--lengths"), repeats and _positive_integers(repeats, "--repeats")
    import_tensorflow_quietly()
    from nmtkit.task_training import evaluate, load_task_model

    recipe, network = load_task_model(model)
    _check_repeats(recipe, counts)
    rows = evaluate(recipe, network, wanted, sequences, seed, repeats=counts or None)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'length':>6} " + (f"{'repeats':>7} " if counts else "")
               + f"{'bit errors':>10} {'bits':>9} {'perfect %':>9}")
    for r in rows:
        typer.echo(f"{r['length']:>6} " + (f"{r['repeats']:>7} " if counts else "")
                   + f"{r['bit_errors']:>10.2f} {r['bits']:>9.2f} {r['perfect']:>9.0f}")


@task_app.command("heads", epilog="Example:\n\n\b\n  nmtkit task heads runs/copy-ntm --length 30 -o heads.png\n")
@reports_errors
def task_heads(
    model: Path = typer.Argument(..., metavar="MODEL_DIR",
                                 help="Model directory trained on an algorithmic task (model.type ntm)."),
    output: Path = typer.Option(..., "--output", "-o", metavar="PNG", help="PNG to write."),
    length: int = typer.Option(20, "--length", metavar="N", min=1,
                               help="Length of the example (associative_recall: items)."),
    repeats: int = typer.Option(None, "--repeats", metavar="N", min=1,
                                help="repeat_copy: the repeat count (default: drawn from the training range)."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Random seed of the example."),
) -> None:
    """Plot an NTM's write and read weightings on one example."""
    import_tensorflow_quietly()
    import numpy as np

    from nmtkit.errors import UsageError
    from nmtkit.ntm_heads import plot_heads, trace_heads
    from nmtkit.task_training import load_task_model, make_task

    recipe, network = load_task_model(model)
    _check_repeats(recipe, repeats)
    try:
        batch = make_task(recipe).batch(np.random.default_rng(seed), 1, length, repeats)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"wrote {plot_heads(output, batch, *trace_heads(network, batch.inputs))}", err=True)


def _positive_integers(text: str, option: str) -> list[int]:
    from nmtkit.errors import UsageError

    try:
        numbers = [int(n) for n in text.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise UsageError(f"{option} must be comma-separated integers >= 1, got {text!r}")
    return numbers


def _check_repeats(recipe, repeats) -> None:
    from nmtkit.errors import UsageError

    if repeats and recipe.task.name != "repeat_copy":
        raise UsageError(f"--repeats is for repeat_copy models; this one learned {recipe.task.name}")
