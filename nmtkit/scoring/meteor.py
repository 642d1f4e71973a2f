"""METEOR (Banerjee and Lavie 2005): nltk's implementation on the report's tokens by default.

nltk's METEOR differs from the official METEOR 1.5 (no paraphrase table, its own parameter
defaults), so its scores are comparable only with other nltk METEOR scores; the report says so.
`ScoreOptions.meteor = "meteor15"` runs the official one instead (see meteor15.py).
"""

from __future__ import annotations

from typing import Sequence

from nmtkit.scoring.metrics import ScoreOptions
from nmtkit.scoring.wordnet import load_wordnet

# nltk's defaults, stated here so the report can print them.
ALPHA, BETA, GAMMA = 0.9, 3.0, 0.5


class _NoSynonyms:
    """Stands in for nltk's WordNet reader when its data is absent: no synonym matches."""

    @staticmethod
    def synsets(word: str) -> list:
        return []


def meteor(hyps: Sequence[str], refs: Sequence[Sequence[str]], options: ScoreOptions) -> dict:
    """METEOR x100 with per-sentence scores, by the implementation `options` names."""
    if options.meteor == "meteor15":
        from nmtkit.scoring.meteor15 import meteor15

        return meteor15(hyps, refs, options.meteor_lang)
    return nltk_meteor(hyps, refs, options)


def nltk_meteor(hyps: Sequence[str], refs: Sequence[Sequence[str]], options: ScoreOptions) -> dict:
    """Mean sentence METEOR (x100) with its per-sentence scores, on the report's tokenization.

    With several reference sets each sentence takes its best-matching reference (nltk's rule).
    """
    from nltk.translate.meteor_score import meteor_score

    tokenize = options.tokenizer()
    wordnet = load_wordnet()
    sentences = [
        100.0 * meteor_score(
            [tokenize(ref_set[i]).split() for ref_set in refs], tokenize(hyp).split(),
            wordnet=wordnet or _NoSynonyms(), alpha=ALPHA, beta=BETA, gamma=GAMMA,
        )
        for i, hyp in enumerate(hyps)
    ]
    return {
        "score": sum(sentences) / len(sentences),
        "sentences": sentences,
        "implementation": f"nltk meteor_score, mean over sentences, tok:{options.tokenize}, "
                          "lowercased",
        "parameters": {"alpha": ALPHA, "beta": BETA, "gamma": GAMMA},
        "matchers": ["exact", "stem (Porter)"] + (["synonym (WordNet)"] if wordnet else []),
        "wordnet": wordnet is not None,
        "notes": [] if wordnet else ["WordNet not installed: no synonym matches (see `make wordnet`)"],
    }
