"""Embeddings: pretrained vector files in every format, vectors trained on the corpus, and
training that starts from them (frozen or not, shared or not)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from nmtkit.artifacts import load_model_dir
from nmtkit.config import load_recipe
from nmtkit.data.embeddings import table_file
from nmtkit.data.prepared import load_vocabs
from nmtkit.preprocess import preprocess
from nmtkit.training import train
from tests.conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke
from tests.test_preprocess import write_corpus

DIM = 8
WORDS = ["der", "Hund", "läuft", "katze", "unrelated"]  # "katze": only the lowercased "Katze" matches


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> tuple[KeyedVectors, Path]:
    kv = KeyedVectors(DIM)
    kv.add_vectors(WORDS, np.random.default_rng(1).normal(size=(len(WORDS), DIM)).astype(np.float32))
    directory = tmp_path_factory.mktemp("vectors")
    kv.save_word2vec_format(str(directory / "w2v.txt"))
    kv.save_word2vec_format(str(directory / "w2v.bin"), binary=True)
    shutil.copyfile(directory / "w2v.txt", directory / "wiki.de.vec")  # fastText's text format
    lines = (directory / "w2v.txt").read_text(encoding="utf-8").splitlines()[1:]
    (directory / "glove.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")  # no header
    with gzip.open(directory / "glove.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return kv, directory


def prepare(tmp_path: Path, **sections):
    root = write_corpus(tmp_path / "corpus")
    sections.setdefault("vocab", {}).setdefault("type", "whitespace")
    sections.setdefault("model", {})["embedding_dim"] = sections.get("model", {}).get("embedding_dim", DIM)
    path = write_recipe(tmp_path / "r.yaml", root, tmp_path / "run", data={"src_lang": "de", "tgt_lang": "en"},
                        **sections)
    return path, load_recipe(path)


@pytest.mark.parametrize("name, fmt", [("w2v.txt", "auto"), ("w2v.bin", "auto"), ("wiki.de.vec", "auto"),
                                       ("glove.txt", "auto"), ("glove.txt.gz", "glove"), ("w2v.txt", "word2vec")])
def test_vector_files_in_every_format_align_to_the_vocabulary(tmp_path, vectors, name, fmt):
    kv, directory = vectors
    _, recipe = prepare(tmp_path, embeddings={"src": str(directory / name), "format": fmt})
    manifest = preprocess(recipe)
    prepared = Path(recipe.data.prepared)
    src_vocab = load_vocabs(prepared)[0]
    table = np.load(table_file(prepared, "src"))
    assert table.shape == (len(src_vocab), DIM) and not table_file(prepared, "tgt").exists()
    for word in ("der", "Hund", "läuft"):
        np.testing.assert_allclose(table[src_vocab.encode([word])[0]], kv[word], rtol=1e-5)
    assert not table[0].any()  # padding
    entries = len(src_vocab) - 4
    assert manifest["embeddings"]["src"] == {"from": str(directory / name), "dimension": DIM, "found": 3,
                                             "found_lowercased": 0, "coverage": round(300 / entries, 2)}


def test_case_insensitive_fallback(tmp_path, vectors):
    kv, directory = vectors
    _, recipe = prepare(tmp_path, embeddings={"src": str(directory / "w2v.txt"), "case_insensitive": True})
    manifest = preprocess(recipe)
    prepared = Path(recipe.data.prepared)
    table, vocab = np.load(table_file(prepared, "src")), load_vocabs(prepared)[0]
    assert manifest["embeddings"]["src"]["found_lowercased"] == 1
    np.testing.assert_allclose(table[vocab.encode(["Katze"])[0]], kv["katze"], rtol=1e-5)


def test_wrong_dimension_or_file_is_a_clean_error(tmp_path, vectors):
    _, directory = vectors
    path, _ = prepare(tmp_path, embeddings={"src": str(directory / "w2v.bin")}, model={"embedding_dim": 16})
    assert_clean_error(invoke("preprocess", path), 78, "dimension 8", "model.embedding_dim is 16")
    (directory / "broken.txt").write_text("2 8\nder 1 2 3\n", encoding="utf-8")
    path, _ = prepare(tmp_path, embeddings={"src": str(directory / "broken.txt")})
    assert_clean_error(invoke("preprocess", path), 65, "broken.txt: not a word2vec vectors file")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    # Prepared at 8, trained at 16: the table does not fit the model.
    path, _ = prepare(tmp_path, embeddings={"src": str(directory / "w2v.txt")})
    assert invoke("preprocess", path).exit_code == 0
    assert_clean_error(invoke("train", path, "--set", "model.embedding_dim=16"), 78,
                       "embeddings of dimension 8", "model.embedding_dim is 16")


@pytest.mark.parametrize("method", ["word2vec", "fasttext"])
def test_vectors_trained_on_the_corpus_at_the_char_level(tmp_path, method):
    _, recipe = prepare(tmp_path, vocab={"type": "char"}, embeddings={"train": method, "epochs": 2})
    manifest = preprocess(recipe)
    for side in ("src", "tgt"):
        assert manifest["embeddings"][side]["coverage"] == 100.0
        assert manifest["embeddings"][side]["from"] == f"{method} on the training {side} tokens"
        assert np.load(table_file(Path(recipe.data.prepared), side)).shape[1] == DIM


def embedding_tables(model_dir: str):
    model = load_model_dir(model_dir).model
    return model.encoder.embedding.embeddings.numpy(), model.decoder.embedding.embeddings.numpy()


def test_training_starts_from_the_tables_frozen_or_not(tmp_path, few_dates_dir):
    common = dict(vocab={"type": "char"}, embeddings={"train": "word2vec", "epochs": 1})
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", few_dates_dir, tmp_path / "run", **common))
    preprocess(recipe)
    prepared = Path(recipe.data.prepared)
    start = {side: np.load(table_file(prepared, side)) for side in ("src", "tgt")}
    train(load_recipe(tmp_path / "r.yaml", ["embeddings.freeze=true", "train.epochs=1"]))
    src, tgt = embedding_tables(recipe.train.model_dir)
    np.testing.assert_array_equal(src, start["src"])
    np.testing.assert_array_equal(tgt, start["tgt"])
    shutil.rmtree(recipe.train.model_dir)
    train(load_recipe(tmp_path / "r.yaml", ["train.epochs=1"]))
    src, _ = embedding_tables(recipe.train.model_dir)
    assert not np.array_equal(src, start["src"])
    assert np.corrcoef(src.ravel(), start["src"].ravel())[0, 1] > 0.5  # moved from there, not elsewhere


def test_shared_embeddings_are_one_table(tmp_path, few_dates_dir):
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", few_dates_dir, tmp_path / "run",
                                      vocab={"type": "char", "joint": True},
                                      model={"share_embeddings": True}))
    preprocess(recipe)
    train(recipe)
    model = load_model_dir(recipe.train.model_dir).model
    assert model.encoder.embedding is model.decoder.embedding
    src, tgt = embedding_tables(recipe.train.model_dir)
    np.testing.assert_array_equal(src, tgt)
    unshared = load_recipe(tmp_path / "r.yaml", ["model.share_embeddings=false"])
    from nmtkit.models.seq2seq import build_model

    sizes = [len(load_vocabs(Path(recipe.data.prepared))[0])] * 2
    assert (build_model(unshared.model, *sizes).count_params() - model.count_params()
            == sizes[0] * recipe.model.embedding_dim)
