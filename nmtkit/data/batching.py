"""Length-bucketed, padded batches for teacher-forced training and validation."""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import numpy as np

from nmtkit.data.vocab import BOS, EOS, PAD


class Batch(NamedTuple):
    src: np.ndarray  # [batch, src_len] int32, PAD-padded
    tgt_in: np.ndarray  # [batch, tgt_len + 1]: <s> y_1 ... y_n, the decoder's inputs
    tgt_out: np.ndarray  # [batch, tgt_len + 1]: y_1 ... y_n </s>, what it must predict


def pad(sequences: Sequence[Sequence[int]], prefix: Sequence[int] = (), suffix: Sequence[int] = ()):
    width = max(len(s) for s in sequences) + len(prefix) + len(suffix)
    out = np.full((len(sequences), width), PAD, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        tokens = [*prefix, *sequence, *suffix]
        out[row, : len(tokens)] = tokens
    return out


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> Batch:
    return Batch(pad(src), pad(tgt, prefix=[BOS]), pad(tgt, suffix=[EOS]))


def batches(
    src: Sequence[np.ndarray],
    tgt: Sequence[np.ndarray],
    batch_size: int,
    rng: np.random.Generator | None = None,
) -> Iterator[Batch]:
    """Batches of similar-length pairs, so that little of each batch is padding.

    Pairs are sorted by source then target length (ties broken at random when `rng` is given,
    so batches differ between epochs), cut into batches, and the batch order is shuffled.
    """
    src_len = np.fromiter(map(len, src), dtype=np.int64, count=len(src))
    tgt_len = np.fromiter(map(len, tgt), dtype=np.int64, count=len(tgt))
    ties = rng.random(len(src)) if rng is not None else np.arange(len(src))
    order = np.lexsort((ties, tgt_len, src_len))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        yield make_batch([src[i] for i in chunk], [tgt[i] for i in chunk])


def count_batches(n_pairs: int, batch_size: int) -> int:
    return -(-n_pairs // batch_size)
