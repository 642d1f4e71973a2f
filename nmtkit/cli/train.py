"""`nmtkit train`: a recipe's model (or an algorithmic task's) to a model directory."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import STARTED, RecipeArg, SetOption, reports_errors
from nmtkit.launcher import DEFAULT_TIMEOUT_S, WORKERS_ENV
from nmtkit.interrupts import Stopped
from nmtkit.native_stderr import import_tensorflow_quietly


EXAMPLES = """Examples:

\b
  nmtkit train recipes/demo-dates.yaml --set train.epochs=2
  nmtkit train recipes/demo-dates.yaml --dry-run   # parameters per component
  nmtkit train recipes/multi30k-de-en.yaml --resume
  nmtkit train recipes/demo-dates.yaml --workers 2  # two local workers
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
    workers: int = typer.Option(1, "--workers", metavar="N",
                                help="Train one model on N local worker processes (multi-worker tf.distribute: a "
                                     "GPU each, else a share of the CPU cores)."),
    worker_timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--worker-timeout", metavar="S",
                                         help="Multi-worker runs: seconds a worker waits for a silent peer "
                                              "before it stops with an error."),
) -> None:
    """Train a recipe's model into train.model_dir.

    The best weights by train.valid_metric are kept. A recipe with a `task` section trains on an
    algorithmic task instead (see recipes/copy-ntm.yaml). With TF_CONFIG set (or --workers),
    every worker trains the same model and only the chief (worker 0) writes.
    """
    from nmtkit.config import read_recipe, recipe_from_dict
    from nmtkit.errors import UsageError
    from nmtkit.task_config import is_task_recipe

    if device not in (None, "auto", "cpu", "gpu"):
        raise UsageError(f"--device must be auto, cpu or gpu, got {device!r}")
    if workers < 1 or not worker_timeout > 0:
        raise UsageError("--workers must be at least 1 and --worker-timeout more than 0 seconds")
    raw = read_recipe(recipe, (set_ or []) + ([f"train.device={device}"] if device else []))
    if is_task_recipe(raw):
        if resume or device or workers > 1:
            raise UsageError("--resume, --device and --workers are for translation recipes, not algorithmic tasks")
        return _train_task(raw, str(recipe), overwrite, dry_run)
    config = recipe_from_dict(raw, source=str(recipe))
    if resume and overwrite:
        raise UsageError("--resume continues a model directory; --overwrite would replace it")
    again = shlex.join(["nmtkit", "train", str(recipe), *sum((["--set", s] for s in set_ or ()), []),
                        *(["--device", device] if device else []),
                        *(["--workers", os.environ.get(WORKERS_ENV, str(workers))]
                          if workers > 1 or WORKERS_ENV in os.environ else []),
                        *(["--worker-timeout", f"{worker_timeout:g}"] if worker_timeout != DEFAULT_TIMEOUT_S else []),
                        "--resume"])
    if workers > 1 and not dry_run:
        return _launch(workers, recipe, set_, overwrite, resume, device, worker_timeout, config, again)
    import_tensorflow_quietly()
    if dry_run:
        from nmtkit.training import describe_model

        typer.echo(f"{'component':<20} {'parameters':>12}")
        for part, count in describe_model(config).items():
            typer.echo(f"{part:<20} {count:>12,}")
        return
    from nmtkit.cluster import WorkerLost
    from nmtkit.training import train as run

    try:
        manifest = run(config, overwrite=overwrite, resume=resume, started_at=STARTED, worker_timeout_s=worker_timeout)
    except Stopped as stopped:
        raise Stopped(stopped.exit_code - 128, f"{stopped}; continue with `{again}`") from None
    except WorkerLost as lost:
        raise WorkerLost(f"{lost}; continue with `{again}`") from None
    best, stats = manifest["training"]["best"], manifest["training"]
    chosen = f" {stats['valid_metric']} {best['valid_' + stats['valid_metric']]:.2f}," if stats["valid_metric"] != "loss" else ""
    typer.echo(
        f"model {config.train.model_dir}: {stats['steps']} steps, {stats['epochs']} epochs "
        f"({stats['stopped_by']}), {stats['train_tokens_per_s']:,.0f} target tok/s; best:{chosen} valid "
        f"loss {best['valid_loss']:.3f} ppl {best['valid_ppl']:.2f} at step {best['step']}",
        err=True,
    )


def _launch(workers: int, recipe: Path, set_, overwrite: bool, resume: bool, device: Optional[str],
            worker_timeout: float, config, again: str) -> None:
    """`--workers N`: the same command on N local workers; the chief's output is this command's."""
    from nmtkit.checkpoints import checkpoint_dirs
    from nmtkit.launcher import launch

    def kept() -> str:
        found = checkpoint_dirs(config.train.model_dir)
        return f"{config.train.model_dir} keeps the checkpoint {found[-1].name}" if found else "no checkpoint was kept"

    args = [str(recipe), *sum((["--set", s] for s in set_ or ()), []), *(["--overwrite"] if overwrite else []),
            *(["--resume"] if resume else []), *(["--device", device] if device else []),
            "--worker-timeout", repr(worker_timeout)]
    code, message = launch(workers, args, device, kept)
    if message:
        typer.echo(f"nmtkit: error: {message}; continue with `{again}`", err=True)
    if code:
        raise typer.Exit(code)


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
