"""`nmtkit score`: every number checked against sacrebleu's command line, nltk or hand counts."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
from nltk.translate.meteor_score import meteor_score
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from typer.testing import CliRunner

from nmtkit.cli import app
from nmtkit.scoring import ScoreOptions, score
from nmtkit.scoring.meteor import _NoSynonyms

HYPS = ["the cat sat on the mat .", "a dog runs in the park", "two men are playing football"]
REFS = ["the cat sat on a mat .", "a dog is running in the park .", "two men play soccer"]
REFS2 = ["a cat is sitting on the mat .", "one dog runs through a park .", "two men play football"]

runner = CliRunner()


def scored(hyps, refs, **kwargs):
    """The one-system report for hypotheses `hyps` against reference sets `refs`."""
    return score([("hyp", hyps)], refs, **kwargs).to_json()


def write(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("options", [
    [],
    ["--tokenize", "none"],
    ["--tokenize", "intl", "--lowercase"],
    ["--tokenize", "char"],
    ["--smooth", "none"],
    ["--ref2"],  # two reference sets
])
def test_bleu_chrf_ter_equal_sacrebleus_command_line(tmp_path, options):
    hyp, ref = write(tmp_path / "hyp", HYPS), write(tmp_path / "ref", REFS)
    refs = [ref]
    if "--ref2" in options:
        options = []
        refs.append(write(tmp_path / "ref2", REFS2))
    ours = runner.invoke(app, ["score", "--json", *sum((["--ref", str(r)] for r in refs), []),
                               *options, str(hyp)])
    assert ours.exit_code == 0, ours.output
    ours = json.loads(ours.stdout)
    cli = {"--tokenize": "-tok", "--lowercase": "-lc", "--smooth": "-s"}
    theirs_options = [cli.get(o, o) for o in options]
    theirs = subprocess.run(
        [str(Path(sys.executable).with_name("sacrebleu")), *map(str, refs), "-i", str(hyp),
         "-m", "bleu", "chrf", "ter", "-w", "6", "--format", "json", *theirs_options],
        check=True, capture_output=True, text=True).stdout
    theirs = {r["name"]: r for r in json.loads(theirs)}
    assert ours["bleu"]["score"] == pytest.approx(theirs["BLEU"]["score"], abs=1e-6)
    assert ours["bleu"]["signature"] == theirs["BLEU"]["signature"]
    assert ours["chrf"]["score"] == pytest.approx(theirs["chrF2"]["score"], abs=1e-6)
    assert ours["ter"]["score"] == pytest.approx(theirs["TER"]["score"], abs=1e-6)


def test_chrf_plus_plus_equals_sacrebleu():
    report = scored(HYPS, [REFS])
    assert report["chrf++"]["score"] == pytest.approx(
        sacrebleu.corpus_chrf(HYPS, [REFS], word_order=2).score)


@pytest.mark.parametrize("hyp, ref", [
    ("a b c d", "a b c d e f g h"),  # shorter than the reference: penalised
    ("a b c d e f g h", "a b c d"),  # longer: no penalty
    ("a b c d", "a b c d"),
])
def test_brevity_penalty(hyp, ref):
    bleu = scored([hyp], [[ref]])["bleu"]
    c, r = len(hyp.split()), len(ref.split())
    assert bleu["brevity_penalty"] == pytest.approx(1.0 if c >= r else math.exp(1 - r / c))
    assert (bleu["hyp_length"], bleu["ref_length"]) == (c, r)
    assert bleu["length_ratio"] == pytest.approx(c / r)


def test_precisions_equal_hand_counts():
    # hyp "the the cat sat" vs ref "the cat sat down": clipped unigram matches the(1) cat sat = 3/4;
    # bigrams the-cat, cat-sat = 2/3; trigram the-cat-sat = 1/2; no 4-gram = 0/1.
    bleu = scored(["the the cat sat"], [["the cat sat down"]])["bleu"]
    assert bleu["precisions"] == pytest.approx([75.0, 200 / 3, 50.0, 0.0])
    assert (bleu["matches"], bleu["totals"]) == ([3, 2, 1, 0], [4, 3, 2, 1])


MULTI_BLEU = ScoreOptions(tokenize="none", smooth="none")


@pytest.mark.parametrize("hyps, refs, expected", [
    # 5/6, 3/5, 2/4, 1/3 n-gram matches, equal lengths: BLEU = (1/12) ** (1/4), as multi-bleu.perl.
    (["the cat sat on the mat"], [["the cat sat on a mat"]], 100 * (1 / 12) ** 0.25),
    # No 4-gram in common: multi-bleu.perl gives 0, with no smoothing.
    (["the the cat sat"], [["the cat sat down"]], 0.0),
    # Case and tokens taken as they are: "Cat" and "cat ," do not match "cat" and "cat,".
    (["Cat , dog"], [["cat, dog"]], 0.0),
])
def test_tokenize_none_gives_multi_bleu_numbers(hyps, refs, expected):
    assert scored(hyps, refs, options=MULTI_BLEU)["bleu"]["score"] == pytest.approx(expected)


def test_brevity_penalty_takes_the_closest_reference_shorter_on_ties():
    # A 6-token hypothesis against references of 5 and 7 tokens: both 1 away, the shorter counts.
    bleu = scored(["a b c d e f"], [["a b c d e"], ["a b c d e f g"]], options=MULTI_BLEU)["bleu"]
    assert bleu["ref_length"] == 5 and bleu["brevity_penalty"] == 1.0


def test_lowercase_makes_case_irrelevant():
    upper = [h.upper() for h in HYPS]
    assert scored(upper, [REFS], options=ScoreOptions(lowercase=True))["bleu"]["score"] == \
        pytest.approx(scored(HYPS, [REFS])["bleu"]["score"])
    assert scored(upper, [REFS])["bleu"]["score"] < 5


def test_meteor_equals_nltk_on_the_same_tokens():
    tokenize = Tokenizer13a()
    expected = [
        meteor_score([tokenize(r).split()], tokenize(h).split(), wordnet=_NoSynonyms())
        for h, r in zip(HYPS, REFS)
    ]
    report = score([("hyp", HYPS)], [REFS], per_sentence=True).to_json()
    if not report["meteor"]["wordnet"]:
        assert report["meteor"]["score"] == pytest.approx(100 * sum(expected) / len(expected))
        assert [s["meteor"] for s in report["per_sentence"]] == pytest.approx([100 * e for e in expected])
        assert report["meteor"]["matchers"] == ["exact", "stem (Porter)"]
    assert report["meteor"]["parameters"] == {"alpha": 0.9, "beta": 3.0, "gamma": 0.5}


def test_meteor_takes_the_best_of_several_references():
    one = scored(["a dog runs"], [["a cat sleeps"]])["meteor"]["score"]
    two = scored(["a dog runs"], [["a cat sleeps"], ["a dog runs"]])["meteor"]["score"]
    assert two == pytest.approx(scored(["a dog runs"], [["a dog runs"]])["meteor"]["score"])
    assert two > 90 > one


def test_stems_match_without_wordnet():
    meteor = scored(["dogs running"], [["dog runs"]])["meteor"]
    assert meteor["score"] > 50  # "dogs"/"dog" and "running"/"runs" share Porter stems


def test_sentence_scores_equal_sacrebleus_sentence_scores():
    report = score([("hyp", HYPS)], [REFS], per_sentence=True).to_json()
    for s, hyp, ref in zip(report["per_sentence"], HYPS, REFS):
        assert s["bleu"] == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score)
        assert s["chrf"] == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref]).score)
        assert s["ter"] == pytest.approx(sacrebleu.sentence_ter(hyp, [ref]).score)


def test_sentence_option_prints_one_line_per_system_and_sentence(tmp_path):
    hyp, ref = write(tmp_path / "hyp", HYPS), write(tmp_path / "ref", REFS)
    result = runner.invoke(app, ["score", "--sentence", "--ref", str(ref), str(hyp), str(ref)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "system\tline\tBLEU\tchrF\tTER\tMETEOR" and len(lines) == 1 + 2 * len(HYPS)
    assert lines[-1].split("\t")[:3] == [str(ref), "3", "100.00"]


# A system that keeps most of each reference, and one that keeps little: tests must tell them apart.
REFERENCES = [f"sentence {i} tells of a man with {i % 7} dogs in the park by the river" for i in range(60)]
GOOD = [" ".join(w for j, w in enumerate(r.split()) if j % 5 != i % 4) for i, r in enumerate(REFERENCES)]
BAD = [" ".join(r.split()[::3]) for r in REFERENCES]


def paired(seed):
    return score([("good", GOOD), ("bad", BAD), ("same", GOOD)], [REFERENCES], seed=seed,
                 bootstrap_samples=200, ar_trials=300).to_json()["significance"]


def test_significance_is_stable_under_a_seed_and_tells_systems_apart():
    first = paired(seed=3)
    assert first == paired(seed=3)
    good, bad, same = first["systems"]
    assert good["bleu"]["p_bootstrap"] is None and good["bleu"]["p_randomisation"] is None
    assert bad["bleu"]["p_bootstrap"] < 0.05 and bad["bleu"]["p_randomisation"] < 0.05
    assert same["bleu"]["score"] == good["bleu"]["score"]
    assert bad["chrf"]["mean"] < good["chrf"]["mean"]
    assert 0 < good["bleu"]["ci95"] < 20
    assert "seed:3" in first["signatures"]["bleu"]["bootstrap"]


def test_several_systems_on_the_command_line_with_a_plot(tmp_path):
    ref = write(tmp_path / "ref", REFERENCES)
    src = write(tmp_path / "src", [f"{'w ' * (i % 40)}x" for i in range(len(REFERENCES))])
    good, bad = write(tmp_path / "good", GOOD), write(tmp_path / "bad", BAD)
    png = tmp_path / "by-length.png"
    args = ["score", "--ref", str(ref), str(good), str(bad), "--src", str(src), "--plot", str(png),
            "--bootstrap-samples", "100", "--ar-trials", "100"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "paired tests against" in table.stdout and "BLEU by source length" in table.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(runner.invoke(app, args + ["--json"]).stdout)
    assert [s["system"] for s in report["systems"]] == [str(good), str(bad)]
    buckets = report["by_length"]["buckets"]
    assert sum(b["sentences"] for b in buckets) == len(REFERENCES)
    assert [b["bucket"] for b in buckets][:2] == ["1-5", "6-10"] and buckets[-1]["bucket"] == "31+"


def run_score(args, input=None):
    return runner.invoke(app, ["score", *map(str, args)], input=input)


def assert_one_line_error(result, code, fragment):
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_bad_input_gets_one_line(tmp_path):
    ref = write(tmp_path / "ref", ["a", "b"])
    assert_one_line_error(run_score(["--ref", ref, write(tmp_path / "h1", ["a"])]), 65,
                          "h1 has 1 lines but reference")
    assert_one_line_error(run_score(["--ref", ref], input="a\n"), 65, "<stdin> has 1 lines")
    assert_one_line_error(run_score(["--ref", write(tmp_path / "empty", []), ref]), 65, "is empty")
    assert_one_line_error(run_score(["--ref", ref, "--ref", write(tmp_path / "r3", ["a"] * 3), ref]),
                          65, "r3 has 3 lines but reference")
    (tmp_path / "bad").write_bytes(b"ok\n\xff\n")
    assert_one_line_error(run_score(["--ref", ref, tmp_path / "bad"]), 65, "bad line 2: invalid UTF-8")
    assert_one_line_error(run_score(["--ref", tmp_path / "missing", ref]), 65, "not found")
    assert_one_line_error(run_score(["--ref", ref, ref, "--tokenize", "moses"]), 2,
                          "--tokenize must be one of")
    assert_one_line_error(run_score(["--ref", ref, ref, "--plot", tmp_path / "no/dir/x.png"]), 65,
                          "does not exist")
    assert_one_line_error(run_score(["--ref", ref, ref, "--src", write(tmp_path / "s", ["x"])]), 65,
                          "s has 1 lines")
    assert_one_line_error(run_score(["--ref", ref, ref, "--plot", tmp_path]), 65, "cannot write")
    assert_one_line_error(run_score(["--ref", ref, ref, "--meteor-impl", "java"]), 2,
                          "--meteor-impl must be one of")


def test_score_never_imports_tensorflow(tmp_path):
    hyp, ref = write(tmp_path / "h", HYPS), write(tmp_path / "r", REFS)
    code = (
        "import sys; from typer.testing import CliRunner; from nmtkit.cli import app; "
        f"r = CliRunner().invoke(app, ['score', '--json', '--ref', r'{ref}', r'{hyp}']); "
        "assert r.exit_code == 0, r.output; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
