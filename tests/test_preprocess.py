"""`preprocess` at every level: vocabularies, cleaning rules, manifest counts and bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from nmtkit.config import load_recipe
from nmtkit.data.prepared import load_split, load_vocabs
from nmtkit.data.tokenizer import SPACE, load_pair
from nmtkit.data.vocab import SPECIALS, UNK
from nmtkit.preprocess import preprocess
from tests.conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke

TRAIN = [
    ("der Hund läuft", "the dog runs"),
    ("der Hund läuft schnell", "the dog runs fast"),
    ("  die Katze schläft  ", "the cat sleeps"),
    ("", "an empty source"),
    ("ein sehr langer Satz mit vielen vielen Wörtern darin", "a long one"),
    ("kurz", "this target is much longer than its source"),
    ("der Hund", "the dog"),
]
VALID = [("der Vogel läuft", "the bird runs"), ("die Katze", "the cat")]


def write_corpus(root: Path, train=TRAIN, valid=VALID) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for prefix, pairs in (("train", train), ("val", valid)):
        for index, lang in enumerate(("de", "en")):
            (root / f"{prefix}.{lang}").write_text("".join(p[index] + "\n" for p in pairs), encoding="utf-8")
    return root


def prepare(tmp_path: Path, root: Path, **sections):
    data = {"src_lang": "de", "tgt_lang": "en", **sections.pop("data", {})}
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", root, tmp_path / "run", data=data, **sections))
    return recipe, preprocess(recipe)


def sentences(directory: Path, split: str, side: str) -> list[list[str]]:
    vocabs = dict(zip(("src", "tgt"), load_vocabs(directory)))
    ragged = getattr(load_split(directory, split), side)
    return [[vocabs[side].tokens[i] for i in ids] for ids in ragged]


def test_word_level_cleaning_counts_every_dropped_pair(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    recipe, manifest = prepare(tmp_path, root, vocab={"type": "whitespace"},
                               clean={"max_src_length": 6, "max_length_ratio": 3})
    train = manifest["splits"]["train"]
    assert train["lines"] == 7 and train["pairs"] == 4
    assert train["dropped"] == {"empty side": 1, "source longer than 6 tokens": 1, "length ratio above 3": 1}
    prepared = Path(recipe.data.prepared)
    assert sentences(prepared, "train", "src")[2] == ["die", "Katze", "schläft"]  # stripped
    assert train["src_tokens"] == 3 + 4 + 3 + 2
    # Validation keeps every pair; "Vogel" and "bird" were never seen in training.
    assert manifest["splits"]["valid"]["pairs"] == 2
    assert manifest["splits"]["valid"]["oov_rate"] == {"src": round(100 / 5, 3), "tgt": round(100 / 5, 3)}
    assert sentences(prepared, "valid", "src")[0] == ["der", "<unk>", "läuft"]


def test_vocabulary_size_and_min_freq(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    recipe, manifest = prepare(tmp_path, root, vocab={"type": "whitespace", "min_freq": 2})
    src, tgt = load_vocabs(Path(recipe.data.prepared))
    # By falling frequency, ties by the token; "vielen" twice in one sentence counts twice.
    assert src.tokens == list(SPECIALS) + ["Hund", "der", "läuft", "vielen"]
    assert manifest["vocab"] == {"src": 8, "tgt": len(tgt), "joint": False}
    recipe, _ = prepare(tmp_path, root, vocab={"type": "whitespace", "size": 5})
    assert load_vocabs(Path(recipe.data.prepared))[0].tokens == list(SPECIALS) + ["Hund"]


def test_joint_vocabulary_serves_both_sides(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    recipe, manifest = prepare(tmp_path, root, vocab={"type": "whitespace", "joint": True})
    src, tgt = load_vocabs(Path(recipe.data.prepared))
    assert src.tokens == tgt.tokens and {"Hund", "dog"} <= set(src.tokens)
    assert manifest["vocab"]["src"] == manifest["vocab"]["tgt"]


def test_char_level_keeps_spaces_visible(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    recipe, manifest = prepare(tmp_path, root, vocab={"type": "char", "lowercase": True})
    prepared = Path(recipe.data.prepared)
    assert "".join(sentences(prepared, "train", "tgt")[0]) == f"the{SPACE}dog{SPACE}runs"
    assert load_pair(prepared).tgt.decode(sentences(prepared, "train", "tgt")[0]) == "the dog runs"
    assert manifest["tokenizers"]["src"]["level"] == "char"


def test_per_side_levels_and_separate_subword_models(tmp_path, dates_dir):
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", dates_dir, tmp_path / "run",
                                      vocab={"type": "bpe", "tgt_type": "char", "size": 150}))
    manifest = preprocess(recipe)
    prepared = Path(recipe.data.prepared)
    assert manifest["tokenizers"]["src"]["model"] == "src.subwords.model"
    assert manifest["tokenizers"]["tgt"] == {**manifest["tokenizers"]["tgt"], "level": "char", "model": ""}
    assert sentences(prepared, "train", "tgt")[0] == list(next(open(dates_dir / "train.iso")).strip())

    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", dates_dir, tmp_path / "run2",
                                      vocab={"size": 150, "subword_model": "separate"}))
    manifest = preprocess(recipe)
    assert {s["model"] for s in manifest["tokenizers"].values()} == {"src.subwords.model", "tgt.subwords.model"}
    pair = load_pair(Path(recipe.data.prepared))
    assert pair.src.fingerprint != pair.tgt.fingerprint


def test_bom_crlf_and_gzip_read_as_plain(tmp_path):
    plain = write_corpus(tmp_path / "plain")
    messy = write_corpus(tmp_path / "messy")
    for name in ("train.de", "train.en"):
        text = (plain / name).read_text(encoding="utf-8")
        (messy / name).unlink()
        with gzip.open(messy / f"{name}.gz", "wb") as handle:
            handle.write(("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))
    outputs = []
    for root in (plain, messy):
        recipe, _ = prepare(tmp_path / root.name, root, vocab={"type": "whitespace"})
        outputs.append([np.asarray(s).tolist() for s in load_split(Path(recipe.data.prepared), "train").src])
    assert outputs[0] == outputs[1]


def test_not_text_and_no_usable_pairs_are_clean_errors(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    (root / "train.en").write_bytes(bytes(range(256)) * 7)
    recipe = write_recipe(tmp_path / "r.yaml", root, tmp_path / "run", data={"src_lang": "de", "tgt_lang": "en"},
                          vocab={"type": "word"})
    assert_clean_error(invoke("preprocess", recipe), 65, "train.en line 1", "does not look like a text file")
    write_corpus(root, train=[("", "x"), ("y", " ")])
    assert_clean_error(invoke("preprocess", recipe), 65, "no usable training pairs")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.parametrize("level", ["char", "word", "whitespace", "bpe", "unigram"])
def test_every_level_prepares_the_dates_task(tmp_path, dates_dir, level):
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", dates_dir, tmp_path / "run",
                                      vocab={"type": level, "size": 120 if level in ("bpe", "unigram") else 0}))
    manifest = preprocess(recipe)
    prepared = Path(recipe.data.prepared)
    assert manifest["splits"]["train"]["pairs"] == 4000
    pair = load_pair(prepared)
    first = sentences(prepared, "train", "tgt")[0]
    assert UNK not in load_split(prepared, "train").tgt.ids
    assert pair.tgt.decode(first) == next(open(dates_dir / "train.iso")).strip()
    assert json.loads((prepared / "manifest.json").read_text())["tokenizers"]["tgt"]["level"] == level
    assert not [p.name for p in prepared.iterdir() if p.name.startswith(".")]  # no leftovers


def test_translate_uses_the_models_own_tokenizers(tmp_path, dates_dir):
    """Moses words in, characters out: the model learns held-out dates, and `translate` reads
    raw text and writes detokenized text with no tokenizer run by hand."""
    recipe = write_recipe(tmp_path / "r.yaml", dates_dir, tmp_path / "run",
                          vocab={"type": "word", "tgt_type": "char", "size": 0},
                          train={"epochs": 4}, translate={"max_length": 12})
    assert invoke("preprocess", recipe).exit_code == 0
    assert invoke("train", recipe).exit_code == 0
    sources = (dates_dir / "test.txt").read_text(encoding="utf-8").splitlines()[:50]
    references = (dates_dir / "test.iso").read_text(encoding="utf-8").splitlines()[:50]
    result = invoke("translate", "--model", tmp_path / "run/model", input="\n".join(sources) + "\n")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.splitlines()
    assert len(outputs) == 50 and not any(SPACE in line for line in outputs)
    assert np.mean([o == r for o, r in zip(outputs, references)]) >= 0.8, list(zip(sources, outputs))[:5]
