"""`nmtkit translate`: raw text in, raw text out, one output line per input line, in order."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import tensorflow as tf

from nmtkit.artifacts import load_model_dir
from nmtkit.data.batching import pad
from nmtkit.data.vocab import BOS, EOS
from nmtkit.search import beam_search, greedy_search

# Lines read ahead per window: each window is sorted by length for batching, then restored.
WINDOW_BATCHES = 16


class Translator:
    def __init__(self, model_dir: str | Path, beam_size: int | None = None,
                 batch_size: int | None = None, max_length: int | None = None):
        loaded = load_model_dir(model_dir)
        settings = loaded.recipe.translate
        self.beam_size = beam_size or settings.beam_size
        self.batch_size = batch_size or settings.batch_size
        self.max_length = max_length or settings.max_length
        self.tokenizer = loaded.tokenizer
        self.src_vocab, self.tgt_vocab = loaded.src_vocab, loaded.tgt_vocab
        self.model = loaded.model
        self._search = tf.function(
            self._search_batch, input_signature=[tf.TensorSpec([None, None], tf.int32)]
        )

    def _search_batch(self, src):
        state, memory, mask = self.model.encode(src)
        if self.beam_size == 1:
            return greedy_search(self.model.step, state, memory, mask, BOS, EOS, self.max_length)
        hypotheses, _ = beam_search(self.model.step, state, memory, mask, BOS, EOS,
                                    self.beam_size, self.max_length)
        return hypotheses[:, 0]  # the best of each beam

    def translate(self, lines: list[str]) -> list[str]:
        """Translations of `lines`, in order; blank lines give empty lines without search."""
        outputs = [""] * len(lines)
        todo = [i for i, line in enumerate(lines) if line.strip()]
        if not todo:
            return outputs
        ids = [self.src_vocab.encode(p) for p in self.tokenizer.encode([lines[i] for i in todo])]
        order = sorted(range(len(todo)), key=lambda k: len(ids[k]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            result = self._search(tf.constant(pad([ids[k] for k in chunk]))).numpy()
            for k, row in zip(chunk, result):
                outputs[todo[k]] = self.tokenizer.decode(self.tgt_vocab.decode(row))
        return outputs

    def stream(self, lines: Iterable[str]) -> Iterator[list[str]]:
        """Translations window by window, so output flows while input still arrives."""
        iterator = iter(lines)
        window = self.batch_size * WINDOW_BATCHES
        while chunk := list(itertools.islice(iterator, window)):
            yield self.translate([line.rstrip("\r\n") for line in chunk])


def translate_stream(model_dir: str | Path, source: TextIO, sink: TextIO, **options) -> int:
    """Translate every line of `source` to `sink`; returns the number of lines."""
    translator = Translator(model_dir, **options)
    count = 0
    for outputs in translator.stream(source):
        sink.write("".join(line + "\n" for line in outputs))
        sink.flush()
        count += len(outputs)
    return count
