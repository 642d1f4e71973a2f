"""`nmtkit translate`: raw text in, raw text out, one output line per input line, in order.

The model's own tokenizer encodes the input and decodes the output. Input is read in windows of
`batch_size x WINDOW_BATCHES` lines; each window is sorted by length for batching (less padding)
and written back in input order before the next is read, so output flows while input arrives and
memory stays flat: sources are padded to widths in steps of 8 and search shrinks its batch in
steps of 8 sentences, because TensorFlow keeps kernels (and their memory) per tensor shape.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TextIO

import numpy as np
import tensorflow as tf

from nmtkit.artifacts import load_model_dir
from nmtkit.attention_plots import plot_attention, prepare_plot_dir
from nmtkit.data.batching import pad
from nmtkit.data.vocab import BOS, EOS, PAD, UNK
from nmtkit.errors import UsageError
from nmtkit.progress import WorkProgress
from nmtkit.search import Hypotheses, SearchOptions, search

WINDOW_BATCHES = 16  # batches of lines read ahead per window
# Batches searched at once. One search leaves a core idle while it runs its many small ops (the
# step's element-wise work, the beam's bookkeeping); a second one fills it: beam 5 on
# test_2016_flickr 10-15% faster on 2 cores, for the memory of a second batch's search.
SEARCHES_IN_FLIGHT = 2


@dataclass
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = the whole vocabulary
    seed: int = 0


@dataclass
class Candidate:
    text: str
    score: float  # log-probability under the model(s)
    pieces: list[str]  # output pieces, EOS excluded
    attention: np.ndarray | None  # [len(pieces) + 1 (EOS), source pieces], when kept


@dataclass
class Translation:
    source: list[str]  # source pieces
    candidates: list[Candidate]  # best first; none for a blank line

    @property
    def text(self) -> str:
        return self.candidates[0].text if self.candidates else ""


class Translator:
    """Search over one model, or an ensemble of models sharing tokenizer and vocabularies.

    `overrides` replace keys of the first model's recipe `translate` section (None = keep).
    The model is built and its search step made from the weights once, here (unless a kept
    search graph is loaded instead): the weights are fixed from then on.
    """

    def __init__(self, model_dirs: Sequence[str | Path], overrides: dict | None = None, n_best: int = 1,
                 sampling: Sampling | None = None, keep_attention: bool = False, keep_compiled: bool = False,
                 saves_graph: bool = False):
        """`keep_compiled`: load the search graph kept in the model directory for these
        settings, or keep it there for the next call (nmtkit.compiled_search; one model only).
        `saves_graph` (export, and keep_compiled): the search step is made inside the search
        graph, so that a saved graph holds the weights once, as variables, rather than copies
        of them (cast, and the step's precomputed tables) as constants that make it slow to
        load; the tables are then made per batch, which costs a few milliseconds each."""
        if not model_dirs:
            raise UsageError("no model directory given")
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self._loaded = [load_model_dir(d, overrides.get("precision")) for d in model_dirs]
        _check_shared_vocabularies(model_dirs, self._loaded)
        first = self._loaded[0]
        self.settings = dataclasses.replace(first.recipe.translate, **overrides)
        self.tokenizers, self.src_vocab, self.tgt_vocab = first.tokenizers, first.src_vocab, first.tgt_vocab
        attends = all(m.recipe.model.attention != "none" for m in self._loaded)
        if (self.settings.replace_unk or keep_attention) and not attends:
            raise UsageError("--replace-unk and --attention-plots need models with attention "
                             "(model.attention is none)")
        self.sampling, self.keep_attention = sampling, keep_attention
        self.keep_compiled = keep_compiled and len(self._loaded) == 1
        self._step_in_graph = saves_graph or keep_compiled  # an ensemble too: searches as its export does
        self._configure(n_best)

    @functools.cached_property
    def model(self):
        """The model, or an ensemble of the models (built at the first use)."""
        if len(self._loaded) == 1:
            return self._loaded[0].model
        from nmtkit.models.ensemble import Ensemble

        return Ensemble(m.model for m in self._loaded)

    @functools.cached_property
    def _step(self):
        return self.model.step_function(fixed_weights=True)

    def _configure(self, n_best: int) -> None:
        """The search of `self.settings`, traced once for every batch shape (or loaded)."""
        s, sampling = self.settings, self.sampling
        self.options = SearchOptions(
            beam_size=1 if sampling else s.beam_size, n_best=n_best,
            length_penalty=s.length_penalty, coverage_penalty=s.coverage_penalty,
            min_length=s.min_length, max_length=s.max_length, max_length_ratio=s.max_length_ratio,
            block_ngram_repeat=s.block_ngram_repeat, sample=sampling is not None,
            temperature=sampling.temperature if sampling else 1.0,
            sample_top_k=sampling.top_k if sampling else 0,
            keep_attention=self.keep_attention or s.replace_unk,
        )
        self.options.check()
        self._batches_searched = 0
        if self.keep_compiled:
            from nmtkit.compiled_search import compiled_search

            self._search = compiled_search(self._loaded[0], self.options, self._traced_search)
        else:
            self._search = self._traced_search()

    def _traced_search(self):
        """`search_ids` as a tf.function, with the model built (here: a damaged model is an error
        now, not at the first search) and, unless it goes in the graph, its step made outside
        the graph (so the step's precomputed tables are made once, not per batch)."""
        _ = self.model if self._step_in_graph else self._step
        return tf.function(self.search_ids, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([2], tf.int32)])

    def with_settings(self, n_best: int | None = None, **translate_keys) -> "Translator":
        """A translator over the same loaded models with other search settings (keys of the
        recipe's `translate` section, e.g. beam_size, length_penalty) and n-best size."""
        other = copy.copy(self)
        other.settings = dataclasses.replace(self.settings, **translate_keys)
        other._configure(self.options.n_best if n_best is None else n_best)
        return other

    def search_ids(self, src, seed=None) -> Hypotheses:
        """The search of one batch of source ids [batch, src_len] (0-padded), as graph ops;
        `seed` (int32 [2]) makes sampling repeatable."""
        state, memory, mask = self.model.encode(src)
        step = self.model.step_function(fixed_weights=True) if self._step_in_graph else self._step
        return search(step, state, memory, mask, BOS, EOS, self.options,
                      forbidden=(PAD, BOS), seed=seed)

    def translate(self, lines: Sequence[str]) -> list[Translation]:
        """Translations of `lines`, in order; blank lines, and lines of which the tokenizer keeps
        nothing (control characters, zero-width spaces), give no candidates, without search."""
        todo = [i for i, line in enumerate(lines) if line.strip()]
        pieces = self.tokenizers.src.encode([lines[i] for i in todo])
        todo, pieces = [i for i, p in zip(todo, pieces) if p], [p for p in pieces if p]
        outputs = [Translation([], []) for _ in lines]
        ids = [self.src_vocab.encode(p) for p in pieces]
        order = sorted(range(len(todo)), key=lambda k: len(ids[k]))
        size = self.settings.batch_size
        chunks = [order[start: start + size] for start in range(0, len(order), size)]
        # Source widths in steps of 8, like the batch's shrinking: fewer shapes, less memory.
        batches = [(pad([ids[k] for k in chunk], multiple=8), self._next_seed()) for chunk in chunks]
        for chunk, found in zip(chunks, self._search_batches(batches)):
            for row, k in enumerate(chunk):
                outputs[todo[k]] = Translation(pieces[k], self._candidates(found, row, pieces[k]))
        return outputs

    def _next_seed(self) -> list[int]:
        """Each batch's sampling seed, from the batches searched before it."""
        seed = [self.sampling.seed if self.sampling else 0, 100_003 * self._batches_searched]
        self._batches_searched += 1
        return seed

    def _search_batches(self, batches: list[tuple[np.ndarray, list[int]]]) -> Iterator[Hypotheses]:
        """The hypotheses of each (source ids, seed), in order, `SEARCHES_IN_FLIGHT` at a time."""
        def search_one(batch) -> Hypotheses:
            src, seed = batch
            found = self._search(tf.constant(src), tf.constant(seed, tf.int32))
            return Hypotheses(*(None if x is None else x.numpy() for x in found))

        if len(batches) == 1:
            yield search_one(batches[0])
            return
        with ThreadPoolExecutor(SEARCHES_IN_FLIGHT) as pool:
            yield from pool.map(search_one, batches)

    def _candidates(self, found: Hypotheses, row: int, source: list[str]) -> list[Candidate]:
        out = []
        for n in range(found.tokens.shape[1]):
            length = int(found.lengths[row, n])
            ids = found.tokens[row, n, :length]
            attention = None if found.attention is None else found.attention[row, n, :length, : len(source)]
            words = self.tgt_vocab.decode(ids)
            if self.settings.replace_unk:
                words = [source[int(np.argmax(attention[j]))] if i == UNK else w
                         for j, (i, w) in enumerate(zip(ids, words))]
            out.append(Candidate(self.tokenizers.tgt.decode(words), float(found.scores[row, n]), words, attention))
        return out

    def stream(self, lines: Iterable[str],
               more_ready: Callable[[], bool] = lambda: True) -> Iterator[list[Translation]]:
        """Translations window by window, so output flows while input still arrives. A window
        is `batch_size x WINDOW_BATCHES` lines, or fewer when `more_ready()` says that no more
        input is ready to read (a pipe fed a line at a time): what has come is translated then."""
        iterator = iter(lines)
        window = self.settings.batch_size * WINDOW_BATCHES
        while True:
            chunk = []
            for line in iterator:
                chunk.append(line)
                if len(chunk) == window or not more_ready():
                    break
            if not chunk:
                return
            yield self.translate([line.rstrip("\r\n") for line in chunk])


def _check_shared_vocabularies(model_dirs, loaded) -> None:
    first = loaded[0]
    for path, other in zip(model_dirs[1:], loaded[1:]):
        if (other.src_vocab.tokens != first.src_vocab.tokens or other.tgt_vocab.tokens != first.tgt_vocab.tokens
                or other.tokenizers.fingerprint != first.tokenizers.fingerprint):
            raise UsageError(f"an ensemble's models must share the tokenizer and vocabularies: "
                             f"{path} differs from {model_dirs[0]}")


def format_translation(index: int, translation: Translation, n_best: int, scores: bool) -> str:
    """The output lines of one input line (see `nmtkit translate --help`)."""
    if n_best > 1:
        found = translation.candidates or [Candidate("", 0.0, [], None)]
        return "".join(f"{index} ||| {c.text} ||| {c.score:.4f}\n" for c in found)
    if scores:
        score = translation.candidates[0].score if translation.candidates else 0.0
        return f"{score:.4f}\t{translation.text}\n"
    return translation.text + "\n"


def translate_stream(translator: Translator, source: Iterable[str], sink: TextIO, scores: bool = False,
                     attention_plots: Path | None = None, plot_count: int = 10,
                     progress: WorkProgress | None = None, input_bytes: int | None = None,
                     more_ready: Callable[[], bool] = lambda: True) -> int:
    """Translate every line of `source` to `sink`; returns the number of lines. `progress`
    counts the sentences; `input_bytes`, the size of the input when known, gives it an ETA;
    `more_ready`: see `Translator.stream`."""
    if attention_plots is not None:
        prepare_plot_dir(attention_plots)
    progress = progress or WorkProgress(quiet=True)
    reading = _CountedLines(source, input_bytes)
    progress.stage("translate", "sentences")
    count = 0
    for translations in translator.stream(reading, more_ready):
        text = []
        for translation in translations:
            text.append(format_translation(count, translation, translator.options.n_best, scores))
            if attention_plots is not None and count < plot_count and translation.candidates:
                best = translation.candidates[0]
                plot_attention(attention_plots / f"{count + 1:05d}.png", best.attention,
                               translation.source, best.pieces + ["</s>"])
            count += 1
        # A window in one write: a command stopped by a signal leaves whole lines behind it.
        sink.write("".join(text))
        sink.flush()
        progress.advance(len(translations), reading.estimated_lines())
    progress.end_stage()
    return count


class _CountedLines:
    """The input's lines, counting lines and bytes read. Translation reads a window ahead of its
    output, so the lines the input holds are estimated from the bytes per line read so far."""

    def __init__(self, lines: Iterable[str], size: int | None):
        self.lines, self.size, self.read, self.bytes = lines, size, 0, 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.read += 1
            self.bytes += len(line.encode("utf-8"))
            yield line

    def estimated_lines(self) -> int | None:
        if not self.size or not self.bytes:
            return None
        return max(self.read, round(self.read * self.size / self.bytes))
