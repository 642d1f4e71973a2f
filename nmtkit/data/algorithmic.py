"""The algorithmic tasks of Graves, Wayne and Danihelka 2014, section 4, generated on the fly.

Each task gives batches of binary vectors: inputs [batch, time, input_width], targets
[batch, time, output_width] and a mask [batch, time] (1 where an output is judged). One batch
shares one length, drawn per batch, so a batch needs no padding. The model sees every input step
and answers on the masked steps; nothing it outputs feeds back.

    copy                a sequence of `bits`-wide random vectors, a delimiter, then the model
                        writes the sequence back (section 4.1)
    repeat_copy         a sequence and a repeat count, then the model writes the sequence that
                        many times and an end marker (section 4.2)
    associative_recall  items of `item_length` vectors, each after an item delimiter, then a
                        query item between query delimiters; the model writes the item that
                        followed the query (section 4.3). `length` counts items.

`length` is the sequence length for copy and repeat_copy and the number of items for
associative_recall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("copy", "repeat_copy", "associative_recall")


@dataclass(frozen=True)
class Batch:
    inputs: np.ndarray   # [batch, time, input_width] float32
    targets: np.ndarray  # [batch, time, output_width] float32
    mask: np.ndarray     # [batch, time] float32


@dataclass(frozen=True)
class AlgorithmicTask:
    """One task's shapes and generator.

    Args:
        name: one of TASKS.
        bits: width of the random vectors (Graves: 8 for copy, 6 for associative recall).
        min_repeats, max_repeats: repeat_copy's training repeat counts (the count is given to
            the model divided by max_repeats, so a test count above max_repeats reads above 1).
        item_length: associative_recall's vectors per item.
    """

    name: str = "copy"
    bits: int = 8
    min_repeats: int = 1
    max_repeats: int = 10
    item_length: int = 3

    def __post_init__(self):
        if self.name not in TASKS:
            raise ValueError(f"unknown task {self.name!r}; choose one of {', '.join(TASKS)}")

    @property
    def input_width(self) -> int:
        return self.bits + (1 if self.name == "copy" else 2)

    @property
    def output_width(self) -> int:
        return self.bits + (1 if self.name == "repeat_copy" else 0)

    def batch(self, rng: np.random.Generator, batch_size: int, length: int,
              repeats: int | None = None) -> Batch:
        """`batch_size` examples of the given length (items for associative_recall).

        repeat_copy repeats the sequence `repeats` times, or a count drawn from min_repeats to
        max_repeats when None; the other tasks take no repeat count."""
        if length < (2 if self.name == "associative_recall" else 1):
            raise ValueError(f"{self.name} needs a length of at least "
                             f"{2 if self.name == 'associative_recall' else 1}, got {length}")
        if self.name != "repeat_copy":
            if repeats is not None:
                raise ValueError(f"only repeat_copy takes a repeat count; this is {self.name}")
            make = self._copy if self.name == "copy" else self._associative_recall
            return make(rng, batch_size, length)
        if repeats is None:
            repeats = int(rng.integers(self.min_repeats, self.max_repeats + 1))
        if repeats < 1:
            raise ValueError(f"repeat_copy needs at least 1 repeat, got {repeats}")
        return self._repeat_copy(rng, batch_size, length, repeats)

    def _random_bits(self, rng, *shape):
        return rng.integers(0, 2, size=(*shape, self.bits)).astype(np.float32)

    def _empty(self, batch_size, steps):
        return (np.zeros((batch_size, steps, self.input_width), np.float32),
                np.zeros((batch_size, steps, self.output_width), np.float32),
                np.zeros((batch_size, steps), np.float32))

    def _copy(self, rng, batch_size, length):
        seq = self._random_bits(rng, batch_size, length)
        inputs, targets, mask = self._empty(batch_size, 2 * length + 1)
        inputs[:, :length, : self.bits] = seq
        inputs[:, length, self.bits] = 1.0  # delimiter
        targets[:, length + 1:] = seq
        mask[:, length + 1:] = 1.0
        return Batch(inputs, targets, mask)

    def _repeat_copy(self, rng, batch_size, length, repeats):
        seq = self._random_bits(rng, batch_size, length)
        start = length + 1  # first output step
        inputs, targets, mask = self._empty(batch_size, start + length * repeats + 1)
        inputs[:, :length, : self.bits] = seq
        inputs[:, length, self.bits] = 1.0
        inputs[:, length, self.bits + 1] = repeats / self.max_repeats
        targets[:, start: start + length * repeats, : self.bits] = np.tile(seq, (1, repeats, 1))
        targets[:, -1, self.bits] = 1.0  # end marker
        mask[:, start:] = 1.0
        return Batch(inputs, targets, mask)

    def _associative_recall(self, rng, batch_size, items):
        k = self.item_length
        item_bits = self._random_bits(rng, batch_size, items, k)
        query = rng.integers(0, items - 1, size=batch_size)  # never the last item: it has no next
        answer_start = items * (k + 1) + k + 2
        inputs, targets, mask = self._empty(batch_size, answer_start + k)
        for i in range(items):
            inputs[:, i * (k + 1), self.bits] = 1.0  # item delimiter
            inputs[:, i * (k + 1) + 1: (i + 1) * (k + 1), : self.bits] = item_bits[:, i]
        q = items * (k + 1)
        rows = np.arange(batch_size)
        inputs[:, q, self.bits + 1] = 1.0  # query delimiter
        inputs[:, q + 1: q + 1 + k, : self.bits] = item_bits[rows, query]
        inputs[:, q + 1 + k, self.bits + 1] = 1.0
        targets[:, answer_start:] = item_bits[rows, query + 1]
        mask[:, answer_start:] = 1.0
        return Batch(inputs, targets, mask)
