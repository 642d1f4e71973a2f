"""Length-bucketed, padded batches for teacher-forced training and validation."""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import numpy as np

from nmtkit.data.vocab import BOS, EOS, PAD


class Batch(NamedTuple):
    src: np.ndarray  # [batch, src_len] int32, PAD-padded
    tgt_in: np.ndarray  # [batch, tgt_len + 1]: <s> y_1 ... y_n, the decoder's inputs
    tgt_out: np.ndarray  # [batch, tgt_len + 1]: y_1 ... y_n </s>, what it must predict


def pad(sequences: Sequence[Sequence[int]], prefix: Sequence[int] = (), suffix: Sequence[int] = (),
        multiple: int = 1):
    """Rows of ids padded to the longest (rounded up to `multiple`), with prefix and suffix."""
    width = max(len(s) for s in sequences) + len(prefix) + len(suffix)
    width = -(-width // multiple) * multiple
    out = np.full((len(sequences), width), PAD, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        tokens = [*prefix, *sequence, *suffix]
        out[row, : len(tokens)] = tokens
    return out


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> Batch:
    return Batch(pad(src), pad(tgt, prefix=[BOS]), pad(tgt, suffix=[EOS]))


def plan_batches(src_len: np.ndarray, tgt_len: np.ndarray, batch_size: int, batch_tokens: int = 0,
                 rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Pair indices per batch, so that similar lengths share a batch and little is padding.

    Pairs are sorted by target then source length (ties broken at random when `rng` is given,
    so batches differ between epochs) and cut into batches of `batch_size` pairs, or, with
    `batch_tokens`, of as many pairs as fit that many padded tokens (pairs x the longer side,
    the target counted with its EOS); the batch order is then shuffled.
    """
    ties = rng.random(len(src_len)) if rng is not None else np.arange(len(src_len))
    # Target first: a target token costs the decoder and the output layer several times what a
    # source token costs the encoder (3.5x in the reference model). On Multi30k, batches of 64
    # are then 99.7% target tokens and 94% source tokens, against 94% and 99.7% the other way
    # round: 3% less computation per token.
    order = np.lexsort((ties, src_len, tgt_len))
    if batch_tokens:
        chunks, start, width = [], 0, 0
        for end, i in enumerate(order):
            width_with = max(width, src_len[i], tgt_len[i] + 1)
            if end > start and (end - start + 1) * width_with > batch_tokens:
                chunks.append(order[start:end])
                start, width_with = end, max(src_len[i], tgt_len[i] + 1)
            width = width_with
        chunks.append(order[start:])
    else:
        chunks = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    return chunks


def lengths(sequences: Sequence[np.ndarray]) -> np.ndarray:
    return np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))


def batches(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], batch_size: int,
            rng: np.random.Generator | None = None, batch_tokens: int = 0) -> Iterator[Batch]:
    """The batches of `plan_batches`, padded."""
    for chunk in plan_batches(lengths(src), lengths(tgt), batch_size, batch_tokens, rng):
        yield make_batch([src[i] for i in chunk], [tgt[i] for i in chunk])
