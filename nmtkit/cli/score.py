"""`nmtkit score`: hypotheses against references (never imports TensorFlow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import reports_errors


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
