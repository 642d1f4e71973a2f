"""BLEU by sentence length: where a system breaks down as inputs grow, as a table and a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nmtkit.errors import DataError
from nmtkit.figures import pyplot, save_png
from nmtkit.scoring.metrics import ScoreOptions

BUCKET_WIDTH = 5  # words
LAST_BUCKET_START = 31  # one open bucket for the long tail: too few sentences to split


def bucket_label(length: int) -> str:
    if length >= LAST_BUCKET_START:
        return f"{LAST_BUCKET_START}+"
    low = (max(length, 1) - 1) // BUCKET_WIDTH * BUCKET_WIDTH + 1
    return f"{low}-{low + BUCKET_WIDTH - 1}"


def bleu_by_length(
    systems: Sequence[tuple[str, Sequence[str]]],
    refs: Sequence[Sequence[str]],
    lengths: Sequence[int],
    options: ScoreOptions,
) -> list[dict]:
    """Corpus BLEU of each system on each length bucket, in length order; empty buckets left out."""
    buckets: dict[str, list[int]] = {}
    for i, length in sorted(enumerate(lengths), key=lambda item: item[1]):
        buckets.setdefault(bucket_label(length), []).append(i)
    bleu = options.bleu()
    rows = []
    for label, members in buckets.items():
        bucket_refs = [[ref_set[i] for i in members] for ref_set in refs]
        scores = {name: bleu.corpus_score([hyps[i] for i in members], bucket_refs).score
                  for name, hyps in systems}
        rows.append({"bucket": label, "sentences": len(members), "bleu": scores})
    return rows


def plot_bleu_by_length(path: Path, rows: list[dict], length_of: str) -> None:
    """Write a PNG: one line per system, BLEU against length bucket (sentence counts on the axis)."""
    labels = [f"{row['bucket']}\n({row['sentences']})" for row in rows]
    figure, axes = pyplot().subplots(figsize=(7, 4))
    for name in rows[0]["bleu"]:
        axes.plot(labels, [row["bleu"][name] for row in rows], marker="o", label=name)
    axes.set_xlabel(f"{length_of} length in words (sentences)")
    axes.set_ylabel("BLEU")
    axes.set_title(f"BLEU by {length_of} length")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_png(figure, path, DataError, dpi=120)
