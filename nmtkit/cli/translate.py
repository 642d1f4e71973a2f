"""`nmtkit translate`: stdin to stdout through one model or an ensemble."""

from __future__ import annotations

import os
import select
import stat
import sys
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import (BatchSizeOption, BeamOption, BlockNgramRepeatOption, CoveragePenaltyOption,
                               LengthPenaltyOption, MaxLengthOption, MaxLengthRatioOption, MinLengthOption,
                               QuietOption, reports_errors, search_overrides, work_written)
from nmtkit.native_stderr import import_tensorflow_quietly


EXAMPLES = """Examples:

\b
  nmtkit translate -m runs/demo-dates/model < data/demo/test.txt > test.iso
  nmtkit translate -m DIR --beam 10 --length-penalty 0.6 < test.de > test.en
  nmtkit translate -m DIR --n-best 5 < test.de    # LINE ||| TEXT ||| LOGPROB
  nmtkit translate -m A -m B -m C < test.de        # an ensemble
  nmtkit translate -m DIR --sample --top-k 20 < mono.de  # back-translation
"""


@reports_errors
def translate(
    model: List[Path] = typer.Option(..., "--model", "-m", metavar="DIR",
                                     help="Model directory (from `train`); repeat to ensemble."),
    beam: Optional[int] = BeamOption,
    batch_size: Optional[int] = BatchSizeOption,
    max_length: Optional[int] = MaxLengthOption,
    max_length_ratio: Optional[float] = MaxLengthRatioOption,
    min_length: Optional[int] = MinLengthOption,
    length_penalty: Optional[float] = LengthPenaltyOption,
    coverage_penalty: Optional[float] = CoveragePenaltyOption,
    block_ngram_repeat: Optional[int] = BlockNgramRepeatOption,
    replace_unk: Optional[bool] = typer.Option(None, "--replace-unk/--no-replace-unk",
                                               help="Replace <unk> by the most-attended source piece."),
    n_best: int = typer.Option(1, "--n-best", min=1, metavar="K",
                               help="Print the K best: `LINE ||| TRANSLATION ||| LOGPROB` (LINE from 0)."),
    scores: bool = typer.Option(False, "--scores", help="Print `LOGPROB<tab>TRANSLATION` lines."),
    sample: bool = typer.Option(False, "--sample", help="Sample each token instead of searching."),
    temperature: float = typer.Option(1.0, "--temperature", metavar="T", help="Sampling: divide the logits by T."),
    top_k: int = typer.Option(0, "--top-k", min=0, metavar="K", help="Sampling: from the K likeliest; 0 = all."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Sampling: random seed."),
    attention_plots: Optional[Path] = typer.Option(None, "--attention-plots", metavar="DIR",
                                                   help="Write attention heatmap PNGs here."),
    plot_count: int = typer.Option(10, "--plot-count", min=1, metavar="N", help="How many sentences to plot."),
    precision: Optional[str] = typer.Option(None, "--precision", metavar="P",
                                            help="auto | float32 | bfloat16 (auto: bfloat16 where native)."),
    quiet: bool = QuietOption,
) -> None:
    """Translate stdin to stdout, a line for each line.

    Output keeps the input's order, and blank lines stay blank. Search options left out take the
    recipe's `translate` values. Progress goes to stderr.
    """
    from nmtkit.data.textio import iter_decoded
    from nmtkit.errors import UsageError

    if sample and (beam or 1) > 1:
        raise UsageError("--sample draws one translation per sentence: it does not combine with --beam > 1")
    if precision not in (None, "auto", "float32", "bfloat16"):
        raise UsageError(f"--precision must be auto, float32 or bfloat16, got {precision!r}")
    import_tensorflow_quietly()
    from nmtkit.compiled_search import skip_graph_rewrites_on_cpu
    from nmtkit.translate import Sampling, Translator, translate_stream

    skip_graph_rewrites_on_cpu()

    overrides = search_overrides(beam, batch_size, max_length, max_length_ratio, min_length, length_penalty,
                                 coverage_penalty, block_ngram_repeat, replace_unk=replace_unk, precision=precision)
    translator = Translator(model, overrides, n_best=n_best,
                            sampling=Sampling(temperature, top_k, seed) if sample else None,
                            keep_attention=attention_plots is not None, keep_compiled=True)
    sys.stdout.reconfigure(encoding="utf-8")
    from nmtkit.progress import WorkProgress

    # Translations on the screen are their own progress: a bar redrawn among them garbles both.
    with WorkProgress(quiet or sys.stdout.isatty()) as progress:
        translate_stream(translator, iter_decoded(sys.stdin.buffer, "<stdin>"), sys.stdout, scores=scores,
                         attention_plots=attention_plots, plot_count=plot_count, progress=progress,
                         input_bytes=_bytes_left(sys.stdin), more_ready=lambda: _readable(sys.stdin))
    work_written()


def _readable(stream) -> bool:
    """Whether reading `stream` would not wait: always for a file; for a pipe, when a writer has
    written more (or closed it). Lines already in Python's buffer are read all the same."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation: in memory (a test runner's), always ready
        return True
    return bool(select.select([fd], [], [], 0)[0])


def _bytes_left(stream) -> int | None:
    """What is left to read of `stream` when it is a regular file (`< input.txt`), else None."""
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
        return info.st_size - os.lseek(fd, 0, os.SEEK_CUR) if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError, AttributeError):  # a pipe, a terminal, or no file at all (tests)
        return None
