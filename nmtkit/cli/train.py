"""`nmtkit train`: a recipe's model (or an algorithmic task's) to a model directory."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import STARTED, RecipeArg, SetOption, reports_errors
from nmtkit.interrupts import Stopped
from nmtkit.native_stderr import import_tensorflow_quietly


EXAMPLES = """Examples:

\b
  nmtkit train recipes/demo-dates.yaml --set train.epochs=2
  nmtkit train recipes/demo-dates.yaml --dry-run   # parameters per component
  nmtkit train recipes/multi30k-de-en.yaml --resume
  nmtkit train recipes/copy-ntm.yaml               # an algorithmic task
"""


@reports_errors
def train(
    recipe: Path = RecipeArg,
    set_: Optional[List[str]] = SetOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model directory."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the model directory's latest checkpoint "
                                                        "(or start, if it has none yet)."),
    device: Optional[str] = typer.Option(None, "--device", metavar="D",
                                         help="auto | cpu | gpu (overrides train.device)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the model's parameters per component; train nothing."),
) -> None:
    """Train a recipe's model into train.model_dir.

    The best weights by train.valid_metric are kept. A recipe with a `task` section trains on an
    algorithmic task instead (see recipes/copy-ntm.yaml).
    """
    from nmtkit.config import read_recipe, recipe_from_dict
    from nmtkit.errors import UsageError
    from nmtkit.task_config import is_task_recipe

    if device not in (None, "auto", "cpu", "gpu"):
        raise UsageError(f"--device must be auto, cpu or gpu, got {device!r}")
    raw = read_recipe(recipe, (set_ or []) + ([f"train.device={device}"] if device else []))
    if is_task_recipe(raw):
        if resume or device:
            raise UsageError("--resume and --device are for translation recipes, not algorithmic tasks")
        return _train_task(raw, str(recipe), overwrite, dry_run)
    config = recipe_from_dict(raw, source=str(recipe))
    import_tensorflow_quietly()
    if dry_run:
        from nmtkit.training import describe_model

        typer.echo(f"{'component':<20} {'parameters':>12}")
        for part, count in describe_model(config).items():
            typer.echo(f"{part:<20} {count:>12,}")
        return
    from nmtkit.training import train as run

    if resume and overwrite:
        raise UsageError("--resume continues a model directory; --overwrite would replace it")
    try:
        manifest = run(config, overwrite=overwrite, resume=resume, started_at=STARTED)
    except Stopped as stopped:
        again = shlex.join(["nmtkit", "train", str(recipe), *sum((["--set", s] for s in set_ or ()), []),
                            *(["--device", device] if device else []), "--resume"])
        raise Stopped(stopped.exit_code - 128, f"{stopped}; continue with `{again}`") from None
    best, stats = manifest["training"]["best"], manifest["training"]
    chosen = f" {stats['valid_metric']} {best['valid_' + stats['valid_metric']]:.2f}," if stats["valid_metric"] != "loss" else ""
    typer.echo(
        f"model {config.train.model_dir}: {stats['steps']} steps, {stats['epochs']} epochs "
        f"({stats['stopped_by']}), {stats['train_tokens_per_s']:,.0f} target tok/s; best:{chosen} valid "
        f"loss {best['valid_loss']:.3f} ppl {best['valid_ppl']:.2f} at step {best['step']}",
        err=True,
    )


def _train_task(raw: dict, source: str, overwrite: bool, dry_run: bool) -> None:
    from nmtkit.task_config import task_recipe_from_dict

    config = task_recipe_from_dict(raw, source)
    import_tensorflow_quietly()
    from nmtkit.task_training import build, train_task

    if dry_run:
        typer.echo(f"{config.model.type} model for {config.task.name}: {build(config).count_params():,} parameters")
        return

    def progress(record: dict) -> None:
        typer.echo(f"{record['sequences']:>9,} sequences: {record['bits_per_sequence']:8.3f} bits per "
                   f"sequence ({record['seconds']:.0f} s)", err=True)

    manifest = train_task(config, overwrite, progress)
    typer.echo(f"model {config.train.model_dir}: {manifest['sequences']:,} sequences in {manifest['seconds']:.0f} s "
               f"({manifest['stopped_by']}); last cost {manifest['final_bits_per_sequence'] or float('nan'):.3f} bits per "
               "sequence",
               err=True)
