"""The prepared-data directory that `preprocess` writes and `train` reads.

Layout: `manifest.json` (counts and settings), `tokenizer.model` (sentencepiece),
`src.vocab.json` / `tgt.vocab.json`, and for each split (train, valid) and side (src, tgt) two
arrays: `{split}.{side}.ids.npy`, every sentence's token ids end to end (int32), and
`{split}.{side}.offsets.npy`, where each sentence starts (int64, one more than sentences).
Training memory-maps them: a batch reads only its own sentences from disk, so a corpus larger
than memory trains, and nothing is held as Python lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.model"
SRC_VOCAB = "src.vocab.json"
TGT_VOCAB = "tgt.vocab.json"


class RaggedIds(Sequence):
    """Sentences of token ids stored end to end: item i is ids[offsets[i]:offsets[i + 1]]."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray):
        self.ids, self.offsets = ids, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        return self.ids[self.offsets[index]: self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


class Split:
    def __init__(self, src: RaggedIds, tgt: RaggedIds):
        self.src, self.tgt = src, tgt


def save_split(directory: Path, name: str, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> None:
    for side, sequences in (("src", src), ("tgt", tgt)):
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        np.save(directory / f"{name}.{side}.offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))
        np.save(directory / f"{name}.{side}.ids.npy",
                np.fromiter((i for s in sequences for i in s), dtype=np.int32, count=int(lengths.sum())))


def load_split(directory: Path, name: str) -> Split:
    """A split of a prepared-data directory, memory-mapped."""
    sides = []
    for side in ("src", "tgt"):
        try:
            ids = np.load(directory / f"{name}.{side}.ids.npy", mmap_mode="r")
            offsets = np.load(directory / f"{name}.{side}.offsets.npy", mmap_mode="r")
        except FileNotFoundError:
            raise ModelDirError(f"{directory} holds no {name} split: run `nmtkit preprocess` "
                                "(again, if it was prepared by an older nmtkit)") from None
        except (OSError, ValueError) as exc:
            raise ModelDirError(f"{directory}: the {name} split is not nmtkit prepared data ({exc})") from None
        sides.append(RaggedIds(ids, np.asarray(offsets)))
    return Split(*sides)


def read_manifest(directory: Path, what: str) -> dict[str, Any]:
    """The manifest of a prepared-data or model directory; a clear error if there is none."""
    if not directory.is_dir():
        raise ModelDirError(f"{directory} is not a directory ({what} expected)")
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirError(f"{directory} is not an nmtkit {what}: no {MANIFEST}") from None
    except ValueError as exc:
        raise ModelDirError(f"{directory / MANIFEST}: unreadable ({exc})") from None


def load_vocabs(directory: Path) -> tuple[Vocab, Vocab]:
    return Vocab.load(directory / SRC_VOCAB), Vocab.load(directory / TGT_VOCAB)
