"""`nmtkit score`: corpus BLEU and chrF (sacrebleu) and METEOR (nltk) of hypotheses against references.

This module never imports TensorFlow, so scoring starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmtkit.data.textio import read_lines
from nmtkit.errors import DataError


def read_hypotheses_and_references(hyp: list[str], hyp_name: str, ref_path: Path):
    refs = read_lines(ref_path)
    if len(hyp) != len(refs):
        raise DataError(
            f"{hyp_name} has {len(hyp)} lines but reference {ref_path} has {len(refs)}"
        )
    if not refs:
        raise DataError(f"reference {ref_path} is empty")
    return refs


def bleu_and_chrf(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    from sacrebleu.metrics import BLEU, CHRF

    bleu_metric, chrf_metric = BLEU(), CHRF()
    bleu = bleu_metric.corpus_score(hyps, [refs])
    chrf = chrf_metric.corpus_score(hyps, [refs])
    return {
        "bleu": {
            "score": bleu.score,
            # Raw clipped n-gram precisions; sacrebleu's own `precisions` are the smoothed ones
            # that enter the score, which disguise an n-gram order with no match at all.
            "precisions": [100.0 * m / t if t else 0.0 for m, t in zip(bleu.counts, bleu.totals)],
            "matches": list(bleu.counts),
            "totals": list(bleu.totals),
            "brevity_penalty": bleu.bp,
            "length_ratio": bleu.sys_len / bleu.ref_len if bleu.ref_len else 0.0,
            "hyp_length": bleu.sys_len,
            "ref_length": bleu.ref_len,
            "signature": str(bleu_metric.get_signature()),
        },
        "chrf": {"score": chrf.score, "signature": str(chrf_metric.get_signature())},
    }


class _NoSynonyms:
    """Stands in for nltk's WordNet reader when its data is absent: no synonym matches."""

    @staticmethod
    def synsets(word: str) -> list:
        return []


def wordnet_or_none():
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return None
    return wordnet


def meteor(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    """nltk's METEOR (Lavie and Agarwal 2007), averaged over sentences, on 13a tokens.

    nltk's implementation differs from the official METEOR 1.5 (no paraphrase matching, its own
    parameter defaults), so its scores are comparable only with other nltk METEOR scores.
    """
    from nltk.translate.meteor_score import meteor_score
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokenize = Tokenizer13a()
    wordnet = wordnet_or_none()
    matchers = ["exact", "stem (Porter)"] + (["synonym (WordNet)"] if wordnet else [])
    total = sum(
        meteor_score([tokenize(ref).split()], tokenize(hyp).split(),
                     wordnet=wordnet or _NoSynonyms())
        for hyp, ref in zip(hyps, refs)
    )
    return {
        "score": 100.0 * total / len(hyps),
        "implementation": "nltk meteor_score, mean over sentences, 13a tokens, lowercased",
        "parameters": {"alpha": 0.9, "beta": 3.0, "gamma": 0.5},
        "matchers": matchers,
        "wordnet": wordnet is not None,
    }


@dataclass
class ScoreReport:
    numbers: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.numbers

    def render(self):
        """A rich table for people."""
        from rich.table import Table

        bleu, chrf, met = self.numbers["bleu"], self.numbers["chrf"], self.numbers["meteor"]
        table = Table(title=f"{self.numbers['sentences']} sentences", show_header=True)
        table.add_column("metric")
        table.add_column("score", justify="right")
        table.add_column("details")
        table.add_row(
            "BLEU", f"{bleu['score']:.2f}",
            "/".join(f"{p:.1f}" for p in bleu["precisions"])
            + f" (BP {bleu['brevity_penalty']:.3f}, ratio {bleu['length_ratio']:.3f}, "
            f"hyp {bleu['hyp_length']}, ref {bleu['ref_length']})\n{bleu['signature']}",
        )
        table.add_row("chrF", f"{chrf['score']:.2f}", chrf["signature"])
        note = "" if met["wordnet"] else "; WordNet not installed: no synonym matches"
        table.add_row("METEOR", f"{met['score']:.2f}",
                      f"{met['implementation']}; matchers: {', '.join(met['matchers'])}{note}")
        return table


def score(hyps: list[str], refs: list[str]) -> ScoreReport:
    return ScoreReport({"sentences": len(hyps), **bleu_and_chrf(hyps, refs),
                        "meteor": meteor(hyps, refs)})
