"""Initial embedding tables: pretrained vectors aligned to a vocabulary, or vectors trained on
the training corpus, both through gensim.

Files: word2vec text (a "count dimension" header line) or binary, GloVe text (no header) and
fastText `.vec` (word2vec text), plain or gzipped. Each vocabulary entry takes its vector when
the file has the token (or, with `case_insensitive`, its lowercased form); the rest start random
with the found vectors' spread, padding at zero. `preprocess` saves `{side}.embeddings.npy`
in the prepared data; `train` starts the embedding layers from them.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from nmtkit.data.prepared import SIDES, read_tokens
from nmtkit.data.vocab import PAD, SPECIALS, Vocab
from nmtkit.errors import DataError, ModelDirError, RecipeError


def table_file(directory: Path, side: str) -> Path:
    return directory / f"{side}.embeddings.npy"


def build_embeddings(recipe, out: Path, vocabs: tuple[Vocab, Vocab], token_files: dict[str, Path]) -> dict[str, Any]:
    """Write the embedding tables the recipe asks for into `out`; returns what the manifest
    reports per side (where the vectors came from, and the vocabulary's coverage)."""
    config, dim = recipe.embeddings, recipe.model.embedding_dim
    rng = np.random.default_rng(recipe.train.seed)
    trained: dict[tuple[str, ...], Any] = {}
    report = {}
    for side, vocab in zip(SIDES, vocabs):
        path = getattr(config, side)
        if path:
            vectors, origin = load_vectors(Path(path), config.format), path
        elif config.train != "none":
            # A joint vocabulary gets one set of vectors, trained on both sides.
            corpus = tuple(SIDES) if recipe.vocab.joint else (side,)
            if corpus not in trained:
                trained[corpus] = train_vectors([token_files[s] for s in corpus], config, dim, recipe.train.seed)
            vectors, origin = trained[corpus], f"{config.train} on the training {' and '.join(corpus)} tokens"
        else:
            continue
        if vectors.vector_size != dim:
            raise RecipeError(f"embeddings.{side}: {origin} holds vectors of dimension {vectors.vector_size}, "
                              f"but model.embedding_dim is {dim}")
        table, found = align(vectors, vocab, config.case_insensitive, rng)
        np.save(table_file(out, side), table)
        entries = len(vocab) - len(SPECIALS)
        report[side] = {"from": origin, "dimension": dim, "found": found["exact"],
                        "found_lowercased": found["lowercased"],
                        "coverage": round(100 * (found["exact"] + found["lowercased"]) / max(entries, 1), 2)}
    return report


def load_vectors(path: Path, fmt: str = "auto"):
    """gensim KeyedVectors from a vectors file; a clear error for anything unreadable."""
    from gensim.models import KeyedVectors

    if not path.is_file():
        raise DataError(f"embeddings file {path} not found")
    fmt = _guess_format(path) if fmt == "auto" else fmt
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec_binary",
                                                 no_header=fmt == "glove")
    except (ValueError, UnicodeDecodeError, EOFError, OSError, IndexError) as exc:
        raise DataError(f"{path}: not a {fmt} vectors file ({exc})") from None


def _guess_format(path: Path) -> str:
    """word2vec_binary for `.bin`; else text, with a header line (word2vec, fastText .vec) or
    without (GloVe)."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".bin"):
        return "word2vec_binary"
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            first = handle.readline().split()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"{path}: not a text vectors file ({exc}); binary word2vec files end in .bin") from None
    return "word2vec" if len(first) == 2 and all(part.isdigit() for part in first) else "glove"


def train_vectors(files: list[Path], config, dim: int, seed: int):
    """word2vec or fastText (skip-gram) vectors trained on token files, streamed."""
    from gensim.models import FastText, Word2Vec

    model_class = Word2Vec if config.train == "word2vec" else FastText
    model = model_class(sentences=_TokenCorpus(files), vector_size=dim, window=config.window, min_count=1,
                        sg=1, epochs=config.epochs, seed=seed, workers=os.cpu_count() or 1)
    return model.wv


class _TokenCorpus:
    """The token files as a restartable stream of token lists (gensim reads it once per epoch)."""

    def __init__(self, files: list[Path]):
        self.files = files

    def __iter__(self) -> Iterator[list[str]]:
        for path in self.files:
            yield from filter(None, read_tokens(path))


def align(vectors, vocab: Vocab, case_insensitive: bool, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A [len(vocab), dim] table: found vectors, the rest random at the found vectors' spread."""
    rows, found = {}, {"exact": 0, "lowercased": 0}
    for index, token in enumerate(vocab.tokens[len(SPECIALS):], len(SPECIALS)):
        if token in vectors.key_to_index:
            rows[index] = vectors[token]
            found["exact"] += 1
        elif case_insensitive and token.lower() in vectors.key_to_index:
            rows[index] = vectors[token.lower()]
            found["lowercased"] += 1
    spread = float(np.std(np.stack(list(rows.values())))) if rows else 0.1
    table = rng.normal(0.0, spread, (len(vocab), vectors.vector_size)).astype(np.float32)
    for index, row in rows.items():
        table[index] = row
    table[PAD] = 0.0
    return table, found


def load_tables(prepared: Path, dim: int) -> dict[str, np.ndarray]:
    """The prepared data's embedding tables by side; a table of the wrong width is an error."""
    tables = {}
    for side in SIDES:
        path = table_file(prepared, side)
        if path.is_file():
            try:
                tables[side] = np.load(path)
            except (OSError, ValueError) as exc:
                raise ModelDirError(f"{path}: unreadable ({exc})") from None
            if tables[side].shape[1] != dim:
                raise RecipeError(f"{path} holds embeddings of dimension {tables[side].shape[1]}, but "
                                  f"model.embedding_dim is {dim}: preprocess again or change the model")
    return tables
