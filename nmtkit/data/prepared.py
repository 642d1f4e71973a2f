"""The prepared-data directory that `preprocess` writes and `train` reads.

Layout: `manifest.json` (counts and settings), `tokenizers.json` (and sentencepiece models),
`src.vocab.json` / `tgt.vocab.json`, and for each split (train, valid) and side (src, tgt) two
arrays: `{split}.{side}.ids.npy`, every sentence's token ids end to end (int32), and
`{split}.{side}.offsets.npy`, where each sentence starts (int64, one more than sentences).
Training memory-maps them: a batch reads only its own sentences from disk, so a corpus larger
than memory trains, and nothing is held as Python lists.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError

MANIFEST = "manifest.json"
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


class SplitWriter:
    """Writes a split's arrays sentence by sentence with flat memory: ids and offsets go to raw
    files in chunks and become `.npy` files (a header, then the raw bytes) at `close`."""

    CHUNK = 1 << 20  # ids buffered before a write

    def __init__(self, directory: Path, name: str):
        self.directory, self.name = directory, name
        self._raw = {}
        for side in ("src", "tgt"):
            for kind in ("ids", "offsets"):
                self._raw[side, kind] = open(directory / f".{name}.{side}.{kind}.raw", "wb")
        self._buffers = {side: [] for side in ("src", "tgt")}
        self._total = {"src": 0, "tgt": 0}
        self.pairs = 0
        for side in ("src", "tgt"):
            self._raw[side, "offsets"].write(np.zeros(1, np.int64).tobytes())

    def add(self, src: Sequence[int], tgt: Sequence[int]) -> None:
        for side, ids in (("src", src), ("tgt", tgt)):
            self._buffers[side].extend(ids)
            self._total[side] += len(ids)
            self._raw[side, "offsets"].write(np.int64(self._total[side]).tobytes())
            if len(self._buffers[side]) >= self.CHUNK:
                self._flush(side)
        self.pairs += 1

    def _flush(self, side: str) -> None:
        self._raw[side, "ids"].write(np.asarray(self._buffers[side], np.int32).tobytes())
        self._buffers[side].clear()

    def close(self) -> None:
        for side in ("src", "tgt"):
            self._flush(side)
            for kind, dtype, count in (("ids", np.int32, self._total[side]), ("offsets", np.int64, self.pairs + 1)):
                raw = self._raw[side, kind]
                raw.close()
                with open(self.directory / f"{self.name}.{side}.{kind}.npy", "wb") as out, open(raw.name, "rb") as data:
                    np.lib.format.write_array_header_1_0(
                        out, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (count,)})
                    shutil.copyfileobj(data, out, 1 << 22)
                os.remove(raw.name)


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
