"""The `nmtkit` command: thin Typer commands over the library functions.

Each command parses its options, calls one function, and maps `NmtkitError` to a one-line
message on stderr and the error's exit code. TensorFlow is imported only by the commands that
need it (train, translate), so `--help`, `score` and `data` start fast.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit import __version__
from nmtkit.errors import NmtkitError, StorageError, one_line
from nmtkit.interrupts import Stopped, exit_on_signals, settle
from nmtkit.native_stderr import import_tensorflow_quietly

STARTED = time.monotonic()  # train's wall-clock budget counts from here, imports included
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs are noise to users

app = typer.Typer(
    help="Recurrent sequence-to-sequence translation: preprocess, train, translate, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Fetch or generate corpora.", no_args_is_help=True)
app.add_typer(data_app, name="data")
task_app = typer.Typer(help="Algorithmic tasks (copy, repeat copy, associative recall): evaluate "
                            "a model, plot an NTM's heads. Train with `nmtkit train recipes/copy-ntm.yaml`.",
                       no_args_is_help=True)
app.add_typer(task_app, name="task")

RecipeArg = typer.Argument(..., help="Recipe YAML file (see recipes/).")
SetOption = typer.Option(None, "--set", help="Override a recipe key: section.key=value (repeatable).")


def _fail(message: str, code: int, kind: str = "error") -> typer.Exit:
    typer.echo(f"nmtkit: {kind}: {message}", err=True)
    return typer.Exit(code)


def reports_errors(command):
    """Turn user errors into one line on stderr and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NmtkitError as exc:
            raise _fail(str(exc), exc.exit_code, exc.kind) from None
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
            sys.stderr.close()
            raise typer.Exit(0) from None
        except OSError as exc:  # what nmtkit did not foresee: a full disk, a read-only folder, ...
            where = f"{exc.filename}: " if exc.filename else ""
            raise _fail(f"{where}{exc.strerror or exc}", StorageError.exit_code) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nmtkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Recurrent sequence-to-sequence translation: preprocess, train, translate, score."""


@app.command()
@reports_errors
def preprocess(recipe: Path = RecipeArg, set_: Optional[List[str]] = SetOption) -> None:
    """Tokenize and clean the recipe's data, build vocabularies (and embeddings), encode it."""
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess as run

    config = load_recipe(recipe, set_ or [])
    manifest = run(config)
    train, oov = manifest["splits"]["train"], manifest["splits"]["valid"]["oov_rate"]
    typer.echo(
        f"prepared {config.data.prepared}: {train['pairs']} training pairs "
        f"({sum(train['dropped'].values())} dropped), vocab src {manifest['vocab']['src']} "
        f"tgt {manifest['vocab']['tgt']}, validation tokens outside it src {oov['src']}% tgt {oov['tgt']}%",
        err=True,
    )


@app.command()
@reports_errors
def train(
    recipe: Path = RecipeArg,
    set_: Optional[List[str]] = SetOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model directory."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the model directory's latest checkpoint "
                                                        "(or start, if it has none yet)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | gpu (overrides train.device)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the model's parameters per component; train nothing."),
) -> None:
    """Train the recipe's model; the best weights (by train.valid_metric) go to train.model_dir.
    A recipe with a `task` section trains on an algorithmic task instead (see recipes/copy-ntm.yaml)."""
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


@app.command()
@reports_errors
def translate(
    model: List[Path] = typer.Option(..., "--model", "-m",
                                     help="Model directory written by `train`; repeat it to ensemble models."),
    beam: Optional[int] = typer.Option(None, "--beam", min=1, help="Beam size; 1 = greedy. Default: the recipe's."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Sentences per batch."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=1, help="Most output tokens per sentence."),
    max_length_ratio: Optional[float] = typer.Option(None, "--max-length-ratio", min=0.0,
                                                     help="Also at most this times the source tokens; 0 = off."),
    min_length: Optional[int] = typer.Option(None, "--min-length", min=0, help="Fewest output tokens per sentence."),
    length_penalty: Optional[float] = typer.Option(None, "--length-penalty", "--alpha", min=0.0,
                                                   help="GNMT length normalisation alpha; 0 = off."),
    coverage_penalty: Optional[float] = typer.Option(None, "--coverage-penalty", "--beta", min=0.0,
                                                     help="GNMT coverage penalty beta; 0 = off."),
    block_ngram_repeat: Optional[int] = typer.Option(None, "--block-ngram-repeat", min=0,
                                                     help="No n-gram of this size twice in an output; 0 = off."),
    replace_unk: Optional[bool] = typer.Option(None, "--replace-unk/--no-replace-unk",
                                               help="Replace <unk> outputs by the most-attended source piece."),
    n_best: int = typer.Option(1, "--n-best", min=1,
                               help="Print the K best per sentence as `LINE ||| TRANSLATION ||| LOGPROB` "
                                    "(LINE counts from 0; one line for a blank input)."),
    scores: bool = typer.Option(False, "--scores", help="Print `LOGPROB<tab>TRANSLATION` lines."),
    sample: bool = typer.Option(False, "--sample", help="Sample each token instead of searching "
                                                        "(e.g. for back-translation)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling: divide the logits by this."),
    top_k: int = typer.Option(0, "--top-k", min=0, help="Sampling: only from the K likeliest tokens; 0 = all."),
    seed: int = typer.Option(0, "--seed", help="Sampling: random seed."),
    attention_plots: Optional[Path] = typer.Option(None, "--attention-plots",
                                                   help="Write attention heatmap PNGs to this folder."),
    plot_count: int = typer.Option(10, "--plot-count", min=1, help="How many sentences to plot."),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto | float32 | bfloat16 (faster where "
                                                                     "native; auto picks it there)."),
) -> None:
    """Translate stdin to stdout: one output line per input line, in order (blank stays blank)."""
    from nmtkit.data.textio import iter_decoded
    from nmtkit.errors import UsageError

    if sample and (beam or 1) > 1:
        raise UsageError("--sample draws one translation per sentence: it does not combine with --beam > 1")
    if precision not in (None, "auto", "float32", "bfloat16"):
        raise UsageError(f"--precision must be auto, float32 or bfloat16, got {precision!r}")
    import_tensorflow_quietly()
    from nmtkit.translate import Sampling, Translator, translate_stream

    overrides = dict(beam_size=beam, batch_size=batch_size, max_length=max_length,
                     max_length_ratio=max_length_ratio, min_length=min_length,
                     length_penalty=length_penalty, coverage_penalty=coverage_penalty,
                     block_ngram_repeat=block_ngram_repeat, replace_unk=replace_unk, precision=precision)
    translator = Translator(model, overrides, n_best=n_best,
                            sampling=Sampling(temperature, top_k, seed) if sample else None,
                            keep_attention=attention_plots is not None)
    sys.stdout.reconfigure(encoding="utf-8")
    translate_stream(translator, iter_decoded(sys.stdin.buffer, "<stdin>"), sys.stdout, scores=scores,
                     attention_plots=attention_plots, plot_count=plot_count)


@app.command()
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


@app.command()
@reports_errors
def plot(
    model: Path = typer.Argument(..., help="Model directory written by `train`."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="PNG to write. Default: MODEL/curves.png."),
) -> None:
    """Plot the training and validation curves of a model directory."""
    from nmtkit.curves import plot_curves

    typer.echo(f"wrote {plot_curves(model, output)}", err=True)


@app.command()
@reports_errors
def score(
    hyps: Optional[List[Path]] = typer.Argument(
        None, metavar="[HYP]...",
        help="Hypothesis files, one per system; the first is the baseline of the paired tests. "
             "stdin when omitted."),
    ref: List[Path] = typer.Option(..., "--ref", "-r", help="Reference file; repeat for several references."),
    tokenize: str = typer.Option("13a", "--tokenize", "-t",
                                 help="13a | intl | none (text already tokenized) | char | zh."),
    lowercase: bool = typer.Option(False, "--lowercase", "-lc", help="Case-insensitive scores."),
    smooth: str = typer.Option("exp", "--smooth",
                               help="Corpus BLEU smoothing: exp | none | floor | add-k. "
                                    "`--tokenize none --smooth none` is multi-bleu.perl."),
    sentence: bool = typer.Option(False, "--sentence",
                                  help="Per-sentence scores: tab-separated lines (in JSON: per_sentence)."),
    as_json: bool = typer.Option(False, "--json", help="Print every number and signature as JSON."),
    src: Optional[Path] = typer.Option(None, "--src", help="Source sentences: adds BLEU by source length."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of BLEU by length per system."),
    meteor: str = typer.Option("nltk", "--meteor-impl",
                               help="nltk | meteor15 (official METEOR 1.5: Java and the meteor15 extra)."),
    meteor_lang: str = typer.Option("en", "--meteor-lang", help="Target language for METEOR 1.5."),
    seed: int = typer.Option(12345, "--seed", help="Random seed of the paired tests."),
    bootstrap_samples: int = typer.Option(1000, "--bootstrap-samples", min=1, help="Paired bootstrap resamples."),
    ar_trials: int = typer.Option(10000, "--ar-trials", min=1, help="Approximate randomisation trials."),
) -> None:
    """Score hypotheses: BLEU (precisions, brevity penalty), chrF, chrF++, TER and METEOR;
    several systems get paired significance tests."""
    from nmtkit.scoring import ScoreOptions, score as run
    from nmtkit.scoring.inputs import read_score_inputs

    options = ScoreOptions(tokenize, lowercase, smooth, meteor, meteor_lang)
    systems, refs, lengths = read_score_inputs(hyps, ref, src, plot, sys.stdin.buffer)
    report = run(systems, refs, options, per_sentence=sentence, seed=seed, lengths=lengths, plot=plot,
                 bootstrap_samples=bootstrap_samples, ar_trials=ar_trials)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    elif sentence:
        sys.stdout.write(report.sentence_tsv())
    else:
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else 160)
        for part in report.render():
            console.print(part)


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


@data_app.command("multi30k")
@reports_errors
def data_multi30k(
    dest: Path = typer.Argument(Path("data/multi30k"), help="Folder to write the corpus to."),
    source: Optional[Path] = typer.Option(None, "--from", help="Copy from this local folder instead of downloading."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Multi30k task 1 (de/en raw text: train, val, test_2016_flickr), downloaded or copied."""
    from nmtkit.data.corpora import fetch_multi30k

    files = fetch_multi30k(dest, source, overwrite)
    typer.echo(f"wrote {len(files)} files to {dest}", err=True)


@data_app.command("dates")
@reports_errors
def data_dates(
    dest: Path = typer.Argument(Path("data/demo"), help="Folder to write the task to."),
    seed: int = typer.Option(7, help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Generate the demo task: English dates -> ISO 8601 (train 20k, val 1k, test 1k)."""
    from nmtkit.data.corpora import make_dates

    make_dates(dest, seed=seed, overwrite=overwrite)
    typer.echo(f"wrote the dates task to {dest}", err=True)


@data_app.command("wordnet")
@reports_errors
def data_wordnet(
    source: Optional[Path] = typer.Option(
        None, "--from", help="A WordNet 3.0 dict folder (e.g. /usr/share/wordnet from Debian's "
                             "wordnet-base and wordnet-sense-index); downloaded by nltk when omitted."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="nltk data folder. Default: the one inside "
                                                             "nmtkit's Python environment."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an installed WordNet."),
) -> None:
    """Install WordNet for METEOR's synonym matches."""
    from nmtkit.scoring.wordnet import default_nltk_data, install_wordnet

    target = install_wordnet(dest or default_nltk_data(), source, overwrite)
    typer.echo(f"installed WordNet in {target}", err=True)


def main() -> None:
    exit_on_signals()
    try:
        code = app(prog_name="nmtkit", standalone_mode=False)
    except typer.TyperException as exc:  # what the shell's user typed wrong: Typer's usage errors
        # `nmtkit` alone has had its help printed already (Typer itself tells that case by name).
        if type(exc).__name__ != "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx else ""
            typer.echo(f"nmtkit: error: {one_line(exc.format_message(), limit=300)}{hint}", err=True)
        code = exc.exit_code
    finally:
        settle()
    sys.exit(code if isinstance(code, int) else 0)
