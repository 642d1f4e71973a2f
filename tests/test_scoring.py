import math
import subprocess
import sys

import pytest
import sacrebleu
from nltk.translate.meteor_score import meteor_score
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from nmtkit.errors import DataError
from nmtkit.scoring import _NoSynonyms, read_hypotheses_and_references, score

HYPS = ["the cat sat on the mat .", "a dog runs in the park", "two men are playing football"]
REFS = ["the cat sat on a mat .", "a dog is running in the park .", "two men play soccer"]


def test_bleu_and_chrf_equal_sacrebleu():
    report = score(HYPS, REFS).to_json()
    expected = sacrebleu.corpus_bleu(HYPS, [REFS])
    assert report["bleu"]["score"] == pytest.approx(expected.score)
    assert report["bleu"]["precisions"] == pytest.approx(expected.precisions)
    assert report["chrf"]["score"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    assert report["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")


@pytest.mark.parametrize("hyp, ref", [
    ("a b c d", "a b c d e f g h"),  # shorter than the reference: penalised
    ("a b c d e f g h", "a b c d"),  # longer: no penalty
    ("a b c d", "a b c d"),
])
def test_brevity_penalty(hyp, ref):
    bleu = score([hyp], [ref]).to_json()["bleu"]
    c, r = len(hyp.split()), len(ref.split())
    assert bleu["brevity_penalty"] == pytest.approx(1.0 if c >= r else math.exp(1 - r / c))
    assert (bleu["hyp_length"], bleu["ref_length"]) == (c, r)
    assert bleu["length_ratio"] == pytest.approx(c / r)


def test_precisions_equal_hand_counts():
    # hyp "the the cat sat" vs ref "the cat sat down": clipped unigram matches the(1) cat sat = 3/4;
    # bigrams the-cat, cat-sat = 2/3; trigram the-cat-sat = 1/2; no 4-gram = 0/1.
    bleu = score(["the the cat sat"], ["the cat sat down"]).to_json()["bleu"]
    assert bleu["precisions"] == pytest.approx([75.0, 200 / 3, 50.0, 0.0])
    assert (bleu["matches"], bleu["totals"]) == ([3, 2, 1, 0], [4, 3, 2, 1])


def test_meteor_equals_nltk_on_the_same_tokens():
    tokenize = Tokenizer13a()
    expected = sum(
        meteor_score([tokenize(r).split()], tokenize(h).split(), wordnet=_NoSynonyms())
        for h, r in zip(HYPS, REFS)
    ) / len(HYPS)
    report = score(HYPS, REFS).to_json()["meteor"]
    if not report["wordnet"]:
        assert report["score"] == pytest.approx(100 * expected)
        assert report["matchers"] == ["exact", "stem (Porter)"]
    assert 0 < report["score"] < 100


def test_stems_match_without_wordnet():
    meteor = score(["dogs running"], ["dog runs"]).to_json()["meteor"]
    assert meteor["score"] > 50  # "dogs"/"dog" and "running"/"runs" share Porter stems


def test_line_count_mismatch_names_both(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("a\nb\nc\n")
    with pytest.raises(DataError, match=r"hyp.txt has 2 lines but reference .*ref.txt has 3"):
        read_hypotheses_and_references(["a", "b"], "hyp.txt", ref)
    ref.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_hypotheses_and_references([], "hyp.txt", ref)


def test_score_never_imports_tensorflow(tmp_path):
    (tmp_path / "h").write_text("\n".join(HYPS) + "\n")
    (tmp_path / "r").write_text("\n".join(REFS) + "\n")
    code = (
        "import sys; from typer.testing import CliRunner; from nmtkit.cli import app; "
        f"r = CliRunner().invoke(app, ['score', '--json', '--ref', r'{tmp_path / 'r'}', r'{tmp_path / 'h'}']); "
        "assert r.exit_code == 0, r.output; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
