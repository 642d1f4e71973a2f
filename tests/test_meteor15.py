"""The official METEOR 1.5 through its jar (pycocoevalcap, a dev dependency); needs Java."""

import shutil

import pytest

from nmtkit.errors import UsageError
from nmtkit.scoring import ScoreOptions, score

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR 1.5 needs Java")


def meteor15(hyps, refs, language="en"):
    options = ScoreOptions(meteor="meteor15", meteor_lang=language)
    return score([("hyp", hyps)], refs, options, per_sentence=True).to_json()


def test_english_with_synonyms_paraphrases_and_several_references():
    report = meteor15(["a hound runs across the lawn", "two men play soccer"],
                      [["a dog runs across the grass", "completely unrelated words"],
                       ["nothing alike at all", "two men play soccer"]])
    meteor = report["meteor"]
    assert meteor["matchers"] == ["exact", "stem", "synonym", "paraphrase"] and meteor["notes"] == []
    first, second = (s["meteor"] for s in report["per_sentence"])
    # The jar's own output for this pair (java -jar meteor-1.5.jar hyp ref -l en -norm): 0.41981...
    assert first == pytest.approx(41.98124927607986, abs=1e-6)
    assert second > 90  # the second reference set holds its exact match
    assert 0 < meteor["score"] < 100


def test_other_languages_use_exact_and_stem_matches():
    meteor = meteor15(["ein Hund rennt"], [["ein Hund läuft"]], "de")["meteor"]
    assert meteor["matchers"] == ["exact", "stem"] and "no paraphrase table for de" in meteor["notes"][0]
    assert 0 < meteor["score"] < 100


def test_unknown_language_is_a_usage_error():
    with pytest.raises(UsageError, match="--meteor-lang must be one of"):
        ScoreOptions(meteor="meteor15", meteor_lang="xx")
