"""`nmtkit score`: BLEU, chrF, chrF++ and TER (sacrebleu) and METEOR (nltk) of one or more systems.

This package never imports TensorFlow, so scoring starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nmtkit.scoring.by_length import bleu_by_length, plot_bleu_by_length
from nmtkit.scoring.metrics import ScoreOptions
from nmtkit.scoring.report import Report, score_system
from nmtkit.scoring.significance import paired_tests


def score(
    systems: Sequence[tuple[str, Sequence[str]]],
    refs: Sequence[Sequence[str]],
    options: ScoreOptions = ScoreOptions(),
    per_sentence: bool = False,
    seed: int = 12345,
    bootstrap_samples: int = 1000,
    ar_trials: int = 10000,
    lengths: tuple[str, Sequence[int]] | None = None,
    plot: Path | None = None,
) -> Report:
    """Score each (name, hypotheses) system against the reference sets `refs`.

    With several systems the first is the baseline of paired significance tests. `lengths`
    (what was measured, e.g. "source", and one length per sentence) adds BLEU by length
    bucket, drawn into `plot` when given.
    """
    report = Report([score_system(name, hyps, refs, options, per_sentence) for name, hyps in systems])
    if len(systems) > 1:
        report.significance = paired_tests(systems, refs, options, seed, bootstrap_samples, ar_trials)
    if lengths is not None:
        length_of, values = lengths
        report.by_length = {"length_of": length_of,
                            "buckets": bleu_by_length(systems, refs, values, options)}
        if plot is not None:
            plot_bleu_by_length(plot, report.by_length["buckets"], length_of)
    return report
