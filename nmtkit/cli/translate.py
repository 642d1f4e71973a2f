"""`nmtkit translate`: stdin to stdout through one model or an ensemble."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly


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
