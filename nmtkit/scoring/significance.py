"""Paired significance tests of systems against the first one (the baseline), via sacrebleu.

Paired bootstrap resampling (Koehn 2004) gives each system's mean and 95% confidence interval
and a p-value; approximate randomisation (Riezler and Maxwell 2005) gives a second p-value.
Both run on BLEU and chrF; TER is left out as it is slow to resample and METEOR is not a
sacrebleu metric.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Sequence

from nmtkit.scoring.metrics import ScoreOptions

TESTED = ("bleu", "chrf")


@contextmanager
def _sacrebleu_seed(seed: int):
    """sacrebleu takes the tests' random seed only from the environment."""
    before = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = before


def _run(test_type: str, systems, refs, options: ScoreOptions, samples: int):
    from sacrebleu.significance import PairedTest

    metrics = {name: m for name, m in options.sacrebleu_metrics().items() if name in TESTED}
    signatures, columns = PairedTest(list(systems), metrics, refs, test_type=test_type,
                                     n_samples=samples)()
    # sacrebleu names its columns after the metrics ("BLEU", "chrF2"), in our metrics' order.
    results = [columns[key] for key in columns if key != "System"]
    return dict(zip(TESTED, results)), dict(zip(TESTED, map(str, signatures.values())))


def paired_tests(
    systems: Sequence[tuple[str, Sequence[str]]],
    refs: Sequence[Sequence[str]],
    options: ScoreOptions,
    seed: int = 12345,
    bootstrap_samples: int = 1000,
    ar_trials: int = 10000,
) -> dict:
    """For each system and tested metric: score, bootstrap mean and 95% CI, p-values (the
    baseline has none)."""
    with _sacrebleu_seed(seed):
        bootstrap, bs_signatures = _run("bs", systems, refs, options, bootstrap_samples)
        randomised, ar_signatures = _run("ar", systems, refs, options, ar_trials)
    rows = []
    for i, (name, _) in enumerate(systems):
        row = {"system": name}
        for metric in TESTED:
            bs, ar = bootstrap[metric][i], randomised[metric][i]
            row[metric] = {"score": bs.score, "mean": bs.mean, "ci95": bs.ci,
                           "p_bootstrap": bs.p_value, "p_randomisation": ar.p_value}
            # sacrebleu hands out numpy scalars, which `json` cannot write.
            row[metric] = {k: None if v is None else float(v) for k, v in row[metric].items()}
        rows.append(row)
    return {
        "baseline": systems[0][0],
        "seed": seed,
        "bootstrap_samples": bootstrap_samples,
        "ar_trials": ar_trials,
        "systems": rows,
        "signatures": {metric: {"bootstrap": bs_signatures[metric], "randomisation": ar_signatures[metric]}
                       for metric in TESTED},
    }
