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
from typing import Any, Iterator, Sequence

import numpy as np

from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError

MANIFEST = "manifest.json"
SRC_VOCAB = "src.vocab.json"
TGT_VOCAB = "tgt.vocab.json"
SIDES = ("src", "tgt")


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
    DTYPES = {"ids": np.int32, "offsets": np.int64}

    def __init__(self, directory: Path, name: str):
        self.directory, self.name = directory, name
        self._raw = {(side, kind): open(directory / f".{name}.{side}.{kind}.raw", "wb")
                     for side in SIDES for kind in self.DTYPES}
        self._buffers = {(side, kind): [] for side, kind in self._raw}
        self._total = {side: 0 for side in SIDES}
        self.pairs = 0
        for side in SIDES:
            self._buffers[side, "offsets"].append(0)

    def add(self, src: Sequence[int], tgt: Sequence[int]) -> None:
        for side, ids in zip(SIDES, (src, tgt)):
            self._buffers[side, "ids"].extend(ids)
            self._total[side] += len(ids)
            self._buffers[side, "offsets"].append(self._total[side])
            if len(self._buffers[side, "ids"]) >= self.CHUNK:
                self._flush(side)
        self.pairs += 1

    def _flush(self, side: str) -> None:
        for kind, dtype in self.DTYPES.items():
            self._raw[side, kind].write(np.asarray(self._buffers[side, kind], dtype).tobytes())
            self._buffers[side, kind].clear()

    def close(self) -> None:
        for side in SIDES:
            self._flush(side)
            for kind, count in (("ids", self._total[side]), ("offsets", self.pairs + 1)):
                dtype = self.DTYPES[kind]
                raw = self._raw[side, kind]
                raw.close()
                with open(self.directory / f"{self.name}.{side}.{kind}.npy", "wb") as out, open(raw.name, "rb") as data:
                    np.lib.format.write_array_header_1_0(
                        out, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (count,)})
                    shutil.copyfileobj(data, out, 1 << 22)
                os.remove(raw.name)


def token_file(directory: Path, split: str, side: str) -> Path:
    """Where `preprocess` keeps a split's tokens while it builds the directory: one line per
    sentence, tokens joined by spaces (no level makes a token that holds U+0020)."""
    return directory / f".{split}.{side}.tokens"


def read_tokens(path: Path) -> Iterator[list[str]]:
    """The sentences of a token file, as token lists (line ends are only "\n": a char-level
    token may be any other character)."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        for line in handle:
            line = line.rstrip("\n")
            yield line.split(" ") if line else []


def load_split(directory: Path, name: str) -> Split:
    """A split of a prepared-data directory, memory-mapped."""
    sides = []
    for side in SIDES:
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
