"""The prepared-data directory that `preprocess` writes and `train` reads.

Layout: `manifest.json` (counts and settings), `tokenizer.model` (sentencepiece),
`src.vocab.json` / `tgt.vocab.json`, and `train.npz` / `valid.npz` holding each side's token ids
as one flat int32 array plus sentence offsets (ragged data without padding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.model"
SRC_VOCAB = "src.vocab.json"
TGT_VOCAB = "tgt.vocab.json"


@dataclass
class Split:
    src: list[np.ndarray]
    tgt: list[np.ndarray]


def save_split(path: Path, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> None:
    arrays = {}
    for side, sequences in (("src", src), ("tgt", tgt)):
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        arrays[f"{side}_offsets"] = np.concatenate([[0], np.cumsum(lengths)])
        arrays[f"{side}_ids"] = np.fromiter(
            (i for s in sequences for i in s), dtype=np.int32, count=int(lengths.sum())
        )
    np.savez(path, **arrays)


def load_split(path: Path) -> Split:
    try:
        with np.load(path) as arrays:
            sides = [
                np.split(arrays[f"{side}_ids"], arrays[f"{side}_offsets"][1:-1])
                for side in ("src", "tgt")
            ]
    except FileNotFoundError:
        raise ModelDirError(f"{path} not found: run `nmtkit preprocess` first") from None
    except (OSError, KeyError, ValueError) as exc:
        raise ModelDirError(f"{path}: not nmtkit prepared data ({exc})") from None
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
