"""`nmtkit score`: hypotheses against references (never imports TensorFlow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import reports_errors


EXAMPLES = """Examples:

\b
  nmtkit score --ref test.en hyp.en
  nmtkit score --ref test.en base.en new.en > report.txt  # paired tests
  nmtkit score --ref test.en --format json hyp.en
  nmtkit score --ref test.en --sentence hyp.en   # per-sentence, tab-separated
"""


FORMATS = ("table", "plain", "json")


@reports_errors
def score(
    hyps: Optional[List[Path]] = typer.Argument(
        None, metavar="HYP",
        help="Hypothesis files, one per system; the first is the baseline of the paired tests. "
             "stdin when omitted."),
    ref: List[Path] = typer.Option(..., "--ref", "-r", metavar="FILE",
                                   help="Reference file; repeat for several references."),
    tokenize: str = typer.Option("13a", "--tokenize", "-t", metavar="T",
                                 help="13a | intl | none (text already tokenized) | char | zh."),
    lowercase: bool = typer.Option(False, "--lowercase", "-lc", help="Case-insensitive scores."),
    smooth: str = typer.Option("exp", "--smooth", metavar="S",
                               help="Corpus BLEU smoothing: exp | none | floor | add-k. "
                                    "`--tokenize none --smooth none` is multi-bleu.perl."),
    sentence: bool = typer.Option(False, "--sentence",
                                  help="Per-sentence scores: tab-separated lines (in JSON: per_sentence)."),
    output_format: Optional[str] = typer.Option(
        None, "--format", "-f", metavar="F",
        help="table | plain | json (every number and signature). Default: a table on a terminal, "
             "plain aligned text otherwise."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    src: Optional[Path] = typer.Option(None, "--src", metavar="FILE",
                                       help="Source sentences: adds BLEU by source length."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="PNG",
                                        help="Write a PNG of BLEU by length per system."),
    meteor: str = typer.Option("nltk", "--meteor-impl", metavar="IMPL",
                               help="nltk | meteor15 (official METEOR 1.5: Java and the meteor15 extra)."),
    meteor_lang: str = typer.Option("en", "--meteor-lang", metavar="LANG", help="Target language for METEOR 1.5."),
    seed: int = typer.Option(12345, "--seed", metavar="N", help="Random seed of the paired tests."),
    bootstrap_samples: int = typer.Option(1000, "--bootstrap-samples", metavar="N", min=1,
                                          help="Paired bootstrap resamples."),
    ar_trials: int = typer.Option(10000, "--ar-trials", metavar="N", min=1, help="Approximate randomisation trials."),
) -> None:
    """Score hypotheses: BLEU, chrF, chrF++, TER and METEOR.

    BLEU comes with its precisions and brevity penalty; several systems get paired significance
    tests against the first. The report is a table on a terminal, plain text otherwise.
    """
    from nmtkit.errors import UsageError
    from nmtkit.scoring import ScoreOptions, score as run
    from nmtkit.scoring.inputs import read_score_inputs

    if output_format not in (None, *FORMATS):
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    if as_json:
        output_format = "json"
    elif output_format is None:
        output_format = "table" if sys.stdout.isatty() else "plain"
    options = ScoreOptions(tokenize, lowercase, smooth, meteor, meteor_lang)
    systems, refs, lengths = read_score_inputs(hyps, ref, src, plot, sys.stdin.buffer)
    report = run(systems, refs, options, per_sentence=sentence, seed=seed, lengths=lengths, plot=plot,
                 bootstrap_samples=bootstrap_samples, ar_trials=ar_trials)
    if output_format == "json":
        typer.echo(json.dumps(report.to_json(), indent=2))
    elif sentence:
        sys.stdout.write(report.sentence_tsv())
    elif output_format == "plain":
        sys.stdout.write(report.plain_text())
    else:
        from rich.console import Console

        console = Console()  # the terminal's width (80 columns when it cannot tell)
        for part in report.render():
            console.print(part)
