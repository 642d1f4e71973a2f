"""The sacrebleu metrics of a score report: BLEU, chrF, chrF++ and TER, corpus and sentence level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from nmtkit.errors import UsageError
from nmtkit.scoring.meteor15 import LANGUAGES as METEOR15_LANGUAGES

# sacrebleu tokenizers that need nothing beyond sacrebleu itself.
TOKENIZERS = ("13a", "intl", "none", "char", "zh")
SMOOTHING = ("exp", "none", "floor", "add-k")
METEOR_IMPLEMENTATIONS = ("nltk", "meteor15")


@dataclass(frozen=True)
class ScoreOptions:
    """How text is compared; the same for every metric, so their numbers agree on what a token is."""

    tokenize: str = "13a"  # `none`: the text is tokenized already (multi-bleu.perl's convention)
    lowercase: bool = False
    smooth: str = "exp"  # `none` with `tokenize="none"` reproduces multi-bleu.perl exactly
    meteor: str = "nltk"  # nltk | meteor15 (the official Java METEOR 1.5)
    meteor_lang: str = "en"  # METEOR 1.5's language

    def __post_init__(self):
        for option, value, choices in (("--tokenize", self.tokenize, TOKENIZERS),
                                       ("--smooth", self.smooth, SMOOTHING),
                                       ("--meteor-impl", self.meteor, METEOR_IMPLEMENTATIONS),
                                       ("--meteor-lang", self.meteor_lang, METEOR15_LANGUAGES)):
            if value not in choices:
                raise UsageError(f"{option} must be one of {', '.join(choices)}, not {value!r}")

    def sacrebleu_metrics(self) -> dict[str, Any]:
        """Fresh sacrebleu metric objects, keyed by the names the report uses."""
        from sacrebleu.metrics import CHRF, TER

        return {
            "bleu": self.bleu(),
            "chrf": CHRF(lowercase=self.lowercase),
            "chrf++": CHRF(word_order=2, lowercase=self.lowercase),
            "ter": TER(case_sensitive=not self.lowercase),
        }

    def bleu(self, **overrides):
        """A sacrebleu BLEU with these options; `overrides` are BLEU's own keyword arguments."""
        from sacrebleu.metrics import BLEU

        return BLEU(**{"tokenize": self.tokenize, "lowercase": self.lowercase,
                       "smooth_method": self.smooth, **overrides})

    def tokenizer(self):
        """The BLEU tokenizer as a callable str -> str (tokens joined by spaces)."""
        return self.bleu().tokenizer


def corpus_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], options: ScoreOptions) -> dict:
    """Corpus-level BLEU (with the numbers behind it), chrF, chrF++ and TER, with signatures.

    `refs` holds one list of lines per reference set (sacrebleu's layout).
    """
    metrics = options.sacrebleu_metrics()
    bleu = metrics["bleu"].corpus_score(hyps, refs)
    report = {
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
            "signature": str(metrics["bleu"].get_signature()),
        }
    }
    for name in ("chrf", "chrf++", "ter"):
        result = metrics[name].corpus_score(hyps, refs)
        report[name] = {"score": result.score, "signature": str(metrics[name].get_signature())}
    return report


def sentence_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]], options: ScoreOptions) -> list[dict]:
    """Per-sentence BLEU (sacrebleu's sentence BLEU, exp-smoothed), chrF and TER."""
    metrics = options.sacrebleu_metrics()
    # Sentence BLEU as sacrebleu computes it: exp smoothing and effective order.
    bleu = options.bleu(smooth_method="exp", effective_order=True)
    scores = []
    for i, hyp in enumerate(hyps):
        sentence_refs = [ref_set[i] for ref_set in refs]
        scores.append({
            "bleu": bleu.sentence_score(hyp, sentence_refs).score,
            "chrf": metrics["chrf"].sentence_score(hyp, sentence_refs).score,
            "ter": metrics["ter"].sentence_score(hyp, sentence_refs).score,
        })
    return scores
