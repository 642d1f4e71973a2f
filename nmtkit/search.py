"""Greedy, beam and sampling search over a decoder step function, as one TensorFlow graph loop.

Search never looks at the model type: it takes `step(token, state, memory, mask) ->
(logits, state, attention)`, the encoder's initial `state` and `memory` (any nests of tensors
with the batch first) and `mask` [batch, src_len]. Wrap the call in `tf.function`.

Hypotheses are flattened to [sentences x beam] rows for the step function: `token`, `state`,
the logits and the attention have a row per hypothesis (a sentence's beam in consecutive rows),
`memory` and `mask` a row per sentence, which its hypotheses share (not 5 copies of the encoder's
outputs for a beam of 5, to repeat and compact as the batch shrinks). Each step scores every
continuation of every hypothesis, applies the options' constraints, and keeps the `beam_size`
best per sentence by their ranking score (below). A hypothesis that emitted EOS is frozen: it
continues only with EOS at no cost, keeping its score. A sentence is done when its `n_best` best
hypotheses have all finished; its results are written out, and done sentences leave the batch
(their rows are dropped) whenever it can shrink by `SHRINK_STEP` sentences, so the loop computes
little more than what is still searched; it stops when every sentence is done.

Ranking (Wu et al. 2016, "Google's Neural Machine Translation System", section 7): a hypothesis Y
of log-probability log P(Y|X) ranks by

    log P(Y|X) / lp(Y) + cp(X; Y),   lp(Y) = ((5 + |Y|) / 6) ** alpha,
    cp = beta * sum over source positions i of log(min(sum_j a_ij, 1))

with |Y| counting EOS and a_ij the attention of output j on source position i; cp scores complete
translations (finished ones and those ending with EOS at this step), as in GNMT: a partial one
has not attended its whole source yet. With alpha = beta =
0 it is the log-probability; scores then only fall as hypotheses grow, so stopping when the best
has finished is exact; with alpha or beta it is the usual heuristic (as in OpenNMT and GNMT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import tensorflow as tf

from nmtkit.errors import UsageError

NEG_INF = -1e9
# The batch shrinks in steps of this many sentences (done ones fill it up, frozen): TensorFlow
# keeps kernels per tensor shape, so fewer shapes keep translation memory from creeping up.
SHRINK_STEP = 8
COVERAGE_FLOOR = 1e-6  # log(0) for a never-attended source position would be -inf


@dataclass(frozen=True)
class SearchOptions:
    beam_size: int = 5  # 1 = greedy
    n_best: int = 1  # hypotheses returned per sentence, best first
    length_penalty: float = 0.0  # GNMT alpha; 0 ranks by log-probability alone
    coverage_penalty: float = 0.0  # GNMT beta
    min_length: int = 0  # EOS is not allowed before this many tokens
    max_length: int = 100  # at most this many tokens before EOS (then EOS is forced)
    min_length_ratio: float = 0.0  # per sentence: at least ratio x source tokens; 0 = off
    max_length_ratio: float = 0.0  # per sentence: at most ratio x source tokens; 0 = off
    block_ngram_repeat: int = 0  # n > 0: no n-gram occurs twice in a hypothesis
    sample: bool = False  # draw each token instead of searching (back-translation)
    temperature: float = 1.0  # sampling: divides the logits
    sample_top_k: int = 0  # sampling: draw from the k most likely tokens only; 0 = all
    keep_attention: bool = False  # return each output token's attention weights

    def check(self) -> None:
        """Reject combinations that cannot be searched, with the option names users type."""
        if self.n_best > self.beam_size:
            raise UsageError(f"--n-best {self.n_best} needs a beam at least as wide (--beam {self.beam_size})")
        if self.sample and self.beam_size != 1:
            raise UsageError("--sample draws one translation per sentence: it does not combine with --beam > 1")
        if self.temperature <= 0:
            raise UsageError(f"--temperature must be > 0, got {self.temperature}")
        if self.min_length > self.max_length:
            raise UsageError(f"--min-length {self.min_length} is above --max-length {self.max_length}")


class Hypotheses(NamedTuple):
    tokens: tf.Tensor  # [batch, n_best, time] int32, EOS included, padded after it
    lengths: tf.Tensor  # [batch, n_best] tokens up to and including EOS
    scores: tf.Tensor  # [batch, n_best] log-probabilities (under the model, untempered)
    attention: tf.Tensor | None  # [batch, n_best, time, src_len] when options.keep_attention


def search(step, state, memory, mask, bos: int, eos: int, options: SearchOptions,
           forbidden: tuple[int, ...] = (), seed=None) -> Hypotheses:
    """Search every sentence of the batch; see the module docstring.

    `forbidden` token ids are never produced (e.g. padding and BOS). `seed` (an int32 tensor of
    shape [2]) makes sampling repeatable.
    """
    k, n_best = options.beam_size, options.n_best
    batch = tf.shape(mask)[0]
    src_lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    min_len, max_len = _length_limits(src_lengths, options)
    longest = tf.reduce_max(max_len) + 1  # + EOS

    src_len = tf.shape(mask)[1]
    alive = _Alive(
        ids=tf.range(batch),
        tokens=tf.fill([batch], bos),  # the first step's: one row per sentence (see `body`)
        seqs=tf.zeros([batch, k, 0], tf.int32),
        # Only the first beam is live at the start, so the first step does not pick duplicates.
        scores=tf.tile(tf.constant([[0.0] + [NEG_INF] * (k - 1)]), [batch, 1]),
        finished=tf.zeros([batch, k], tf.bool),
        lengths=tf.zeros([batch, k], tf.int32),
        coverage=tf.zeros([batch, k, src_len]) if options.coverage_penalty else (),
        attention=tf.zeros([batch, k, 0, src_len]) if options.keep_attention else (),
    )
    out = Hypotheses(
        tokens=tf.fill([batch, n_best, longest], eos),
        lengths=tf.zeros([batch, n_best], tf.int32),
        scores=tf.zeros([batch, n_best]),
        attention=tf.zeros([batch, n_best, longest, src_len]) if options.keep_attention else (),
    )

    def body(t, alive, state, memory, mask, out):
        logits, state, attention = step(alive.tokens, state, memory, mask)
        if k > 1:
            # Every hypothesis of a sentence starts from BOS in the sentence's state, so the first
            # step runs on one row per sentence and its outputs are repeated for the beam: in a
            # beam-5 search of test_2016_flickr a twentieth of all rows had been these copies.
            logits, attention = tf.cond(t > 0, lambda: (logits, attention),
                                        lambda: (tf.repeat(logits, k, axis=0), tf.repeat(attention, k, axis=0)))
        a = tf.shape(alive.ids)[0]
        logits = tf.reshape(logits, [a, k, -1])  # in the step's dtype (see `_top_candidates`)
        attention = tf.reshape(tf.cast(attention, tf.float32), [a, k, -1])
        limits = _Limits(t, tf.gather(min_len, alive.ids), tf.gather(max_len, alive.ids), eos, forbidden)
        if options.sample:
            parents, new_tokens, scores = _draw(logits, alive, limits, seed, options)
        else:
            src_mask = tf.cast(mask, tf.float32)[:, None, :]
            parents, new_tokens, scores = _best(logits, attention, src_mask, alive, limits, options)
        alive = _advance(alive, t, parents, new_tokens, scores, attention, eos, options)
        rows = tf.reshape(parents + tf.range(a)[:, None] * k, [-1])
        if k > 1:
            rows //= tf.where(t > 0, 1, k)  # after the first step, a sentence's one state row
        state = tf.nest.map_structure(lambda s: tf.gather(s, rows), state)
        done = tf.reduce_all(alive.finished[:, :n_best], axis=1)
        # A done sentence is frozen whole (every hypothesis finished), so while it waits to leave
        # the batch its results stay exactly as written now.
        alive = alive._replace(finished=alive.finished | done[:, None])
        out = _write_done(out, alive, done, longest, n_best, eos)
        searching = a - tf.reduce_sum(tf.cast(done, tf.int32))
        keep = tf.minimum(a, (searching + SHRINK_STEP - 1) // SHRINK_STEP * SHRINK_STEP)
        alive, state, memory, mask = tf.cond(
            keep < a,
            lambda: _drop(alive, state, memory, mask, done, keep, k),
            lambda: (alive, state, memory, mask),
        )
        return t + 1, alive, state, memory, mask, out

    loop_vars = (tf.constant(0), alive, state, memory, mask, out)
    *_, out = tf.while_loop(
        lambda t, alive, *_: tf.reduce_any(~tf.reduce_all(alive.finished[:, :n_best], axis=1)), body, loop_vars,
        shape_invariants=_relaxed(loop_vars),
    )
    width = tf.reduce_max(out.lengths)
    return Hypotheses(out.tokens[:, :, :width], out.lengths, out.scores,
                      out.attention[:, :, :width] if options.keep_attention else None)


class _Alive(NamedTuple):
    """The sentences still searched, [alive, beam, ...]; `ids` are their rows in the batch."""

    ids: tf.Tensor  # [alive]
    tokens: tf.Tensor  # [alive x beam] the last token of each hypothesis ([alive] at first)
    seqs: tf.Tensor  # [alive, beam, t]
    scores: tf.Tensor  # [alive, beam] log-probabilities
    finished: tf.Tensor  # [alive, beam]
    lengths: tf.Tensor  # [alive, beam] tokens including EOS, once finished
    coverage: tf.Tensor | tuple  # [alive, beam, src_len] summed attention (coverage penalty only)
    attention: tf.Tensor | tuple  # [alive, beam, t, src_len] (keep_attention only)


def _length_limits(src_lengths, options: SearchOptions):
    """Per sentence: fewest tokens before EOS may come, most before it must."""
    max_len = tf.fill(tf.shape(src_lengths), options.max_length)
    min_len = tf.fill(tf.shape(src_lengths), options.min_length)
    source = tf.cast(src_lengths, tf.float32)
    if options.max_length_ratio:
        by_ratio = tf.cast(tf.math.ceil(options.max_length_ratio * source), tf.int32)
        max_len = tf.minimum(max_len, tf.maximum(by_ratio, 1))
    if options.min_length_ratio:
        min_len = tf.maximum(min_len, tf.cast(tf.floor(options.min_length_ratio * source), tf.int32))
    return tf.minimum(min_len, max_len), max_len


class _Limits(NamedTuple):
    """What constrains the tokens of step `t`, per alive sentence."""

    t: tf.Tensor
    min_len: tf.Tensor  # [alive]
    max_len: tf.Tensor  # [alive]
    eos: int
    forbidden: tuple[int, ...]


def _banned(tokens, limits: _Limits, options: SearchOptions):
    """Which of `tokens` (ids [alive, ...]) may not come next: forbidden tokens, and EOS before
    the minimum length."""
    banned = tf.zeros_like(tokens, tf.bool)
    for token in limits.forbidden:
        banned |= tf.equal(tokens, token)
    if options.min_length or options.min_length_ratio:
        too_short = tf.reshape(limits.t < limits.min_len, [-1] + [1] * (len(tokens.shape) - 1))
        banned |= too_short & tf.equal(tokens, limits.eos)
    return banned


def _top_candidates(x, width):
    """The `width` largest values of each row of x [rows, vocab], their ids, and each row's
    log-sum-exp; values and log-sum-exp in float32.

    Blocked top-k: the k largest values lie in the k blocks (of up to 64 values) with the largest
    maxima, so the exact top-k runs on those blocks only; with a vocabulary of 4,274 this takes
    a third of the time of `tf.math.top_k` over whole rows on a 2-core CPU. The log-sum-exp is
    the best value minus the log of its softmax probability: the softmax is one fused kernel
    (oneDNN's on a CPU), faster than subtracting, exponentiating and summing in steps.

    x stays in the step's dtype: bfloat16 logits (mixed precision) take half the memory of a
    float32 copy, which mattered for translation's peak. The log-sum-exp is then off by up to
    0.004 (the probability rounded to bfloat16), less than the rounding of the logits themselves.
    """
    rows, vocab = tf.unstack(tf.shape(x))
    block = tf.maximum(1, tf.minimum(64, vocab // width))  # at least `width` blocks
    blocks = (vocab + block - 1) // block
    padded = tf.pad(x, [[0, 0], [0, blocks * block - vocab]], constant_values=float("-inf"))
    cut = tf.reshape(padded, [rows, blocks, block])
    block_max = tf.reduce_max(cut, axis=-1)
    _, best_blocks = tf.math.top_k(block_max, k=width)
    inside = tf.reshape(tf.gather(cut, best_blocks, batch_dims=1), [rows, width * block])
    values, where = tf.math.top_k(inside, k=width)
    ids = tf.gather(best_blocks, where // block, batch_dims=1) * block + where % block
    values = tf.cast(values, tf.float32)
    best_probability = tf.cast(tf.gather(tf.nn.softmax(x), ids[:, 0], batch_dims=1), tf.float32)
    return values, ids, values[:, 0] - tf.math.log(best_probability)  # the probability >= 1 / vocab


def _block_repeats(logits, seqs, n):
    """Forbid each token that would complete an n-gram the hypothesis already holds.

    The hypotheses are left-padded with n - 1 tokens (-1) that match no real one, so the last
    n - 1 tokens always exist and no window that reaches into the padding can match them.
    """
    a, k, vocab = tf.unstack(tf.shape(logits))
    flat = tf.pad(tf.reshape(seqs, [a * k, -1]), [[0, 0], [n - 1, 0]], constant_values=-1)
    frames = tf.signal.frame(flat, n, 1, axis=1)  # [rows, t, n]: each n-gram so far
    last = flat[:, tf.shape(flat)[1] - (n - 1):]  # what a new token would follow
    found = tf.where(tf.reduce_all(tf.equal(frames[:, :, : n - 1], last[:, None, :]), axis=-1))
    repeats = tf.gather_nd(frames[:, :, n - 1], found)  # the tokens that would repeat an n-gram
    indices = tf.stack([tf.cast(found[:, 0], tf.int32), repeats], axis=1)
    flat_logits = tf.tensor_scatter_nd_update(
        tf.reshape(logits, [a * k, vocab]), indices, tf.fill([tf.shape(indices)[0]], tf.cast(NEG_INF, logits.dtype)))
    return tf.reshape(flat_logits, [a, k, vocab])


def _rank(totals, lengths, coverage, src_mask, ending, options):
    """The ranking score of each continuation (see the module docstring); the coverage penalty
    counts for complete translations only (`ending`: finished, or ending now with EOS)."""
    rank = totals
    if options.length_penalty:
        lp = ((5.0 + tf.cast(lengths, tf.float32)) / 6.0) ** options.length_penalty
        rank = rank / lp[..., None]
    if options.coverage_penalty:
        capped = tf.math.log(tf.clip_by_value(coverage, COVERAGE_FLOOR, 1.0))
        cp = options.coverage_penalty * tf.reduce_sum(capped * src_mask, -1)
        rank += tf.where(ending, cp[..., None], 0.0)
    return rank


def _best(logits, attention, src_mask, alive, limits: _Limits, options: SearchOptions):
    """The `beam_size` best continuations of each sentence: (parents, tokens, log-probabilities).

    Only the best few tokens of each hypothesis can be among its sentence's best continuations,
    so the vocabulary-wide work is one log-sum-exp and one top-k per hypothesis; bans and the
    ranking then run on [alive, beam, width] candidates. The width is the beam, plus one per
    token that may be banned (so enough remain), plus one with the coverage penalty (which
    lowers EOS only).
    """
    a, k, vocab = tf.unstack(tf.shape(logits))
    t, eos = limits.t, limits.eos
    searched = logits
    if options.block_ngram_repeat:  # the only ban that can hit any token: applied to the rows
        searched = _block_repeats(logits, alive.seqs, options.block_ngram_repeat)
    extra = len(limits.forbidden) + (1 if options.min_length or options.min_length_ratio else 0)
    width = tf.minimum(k + extra + (1 if options.coverage_penalty else 0), vocab)
    values, tokens, normaliser = _top_candidates(tf.reshape(searched, [a * k, vocab]), width)
    if options.block_ngram_repeat:  # log-probabilities are the model's, before any ban
        normaliser = tf.reduce_logsumexp(tf.cast(tf.reshape(logits, [a * k, vocab]), tf.float32), axis=-1)
    values, tokens = tf.reshape(values, [a, k, width]), tf.reshape(tokens, [a, k, width])
    normaliser = tf.reshape(normaliser, [a, k])  # log-probability = logit - normaliser
    values = tf.where(_banned(tokens, limits, options), NEG_INF, values)
    totals = alive.scores[..., None] + values - normaliser[..., None]  # [a, k, width]
    first = tf.equal(tf.range(width), 0)
    # At the length limit a hypothesis may only end; a finished one only repeats EOS at no cost.
    must_end = (t >= limits.max_len)[:, None, None]
    ending_total = alive.scores + tf.cast(logits[..., eos], tf.float32) - normaliser
    totals = tf.where(must_end, tf.where(first, ending_total[..., None], NEG_INF), totals)
    finished = alive.finished[..., None]
    totals = tf.where(finished, tf.where(first, alive.scores[..., None], NEG_INF), totals)
    tokens = tf.where(must_end | finished, eos, tokens)
    ranks = totals
    if options.length_penalty or options.coverage_penalty:
        lengths = tf.where(alive.finished, alive.lengths, t + 1)
        coverage = _grown_coverage(alive, attention) if options.coverage_penalty else None
        ranks = _rank(totals, lengths, coverage, src_mask, finished | tf.equal(tokens, eos), options)
    _, chosen = tf.math.top_k(tf.reshape(ranks, [a, k * width]), k=k)  # sorted, best first
    scores = tf.gather(tf.reshape(totals, [a, k * width]), chosen, batch_dims=1)
    new_tokens = tf.gather(tf.reshape(tokens, [a, k * width]), chosen, batch_dims=1)
    return chosen // width, new_tokens, scores


def _draw(logits, alive, limits: _Limits, seed, options: SearchOptions):
    """Sample one token per sentence (beam 1) from the tempered, top-k-truncated distribution."""
    a, vocab = tf.shape(logits)[0], tf.shape(logits)[-1]
    logits = tf.cast(logits, tf.float32)
    log_probs = tf.nn.log_softmax(logits[:, 0])
    tempered = logits[:, 0] / options.temperature
    tempered = tf.where(_banned(tf.range(vocab)[None], limits, options), NEG_INF, tempered)
    if options.block_ngram_repeat:
        tempered = _block_repeats(tempered[:, None], alive.seqs, options.block_ngram_repeat)[:, 0]
    if options.sample_top_k:
        kth = tf.math.top_k(tempered, k=tf.minimum(options.sample_top_k, vocab)).values[:, -1:]
        tempered = tf.where(tempered >= kth, tempered, NEG_INF)
    step_seed = tf.stack([seed[0], seed[1] + limits.t]) if seed is not None else tf.stack([0, limits.t])
    tokens = tf.random.stateless_categorical(tempered, 1, seed=step_seed, dtype=tf.int32)
    tokens = tf.where((limits.t >= limits.max_len)[:, None] | alive.finished, limits.eos, tokens)
    scores = tf.where(alive.finished, alive.scores, alive.scores + tf.gather(log_probs, tokens, batch_dims=1))
    return tf.zeros([a, 1], tf.int32), tokens, scores


def _grown_coverage(alive, attention):
    return alive.coverage + tf.where(alive.finished[..., None], 0.0, attention)


def _advance(alive, t, parents, new_tokens, scores, attention, eos, options) -> _Alive:
    """Reorder the hypotheses by their parents and append the chosen tokens."""
    def take(x):
        return tf.gather(x, parents, batch_dims=1)

    was_finished = take(alive.finished)
    coverage = take(_grown_coverage(alive, attention)) if options.coverage_penalty else ()
    kept_attention = ()
    if options.keep_attention:
        kept_attention = tf.concat([take(alive.attention), take(attention)[:, :, None]], axis=2)
    return _Alive(
        ids=alive.ids,
        tokens=tf.reshape(new_tokens, [-1]),
        seqs=tf.concat([take(alive.seqs), new_tokens[..., None]], axis=2),
        scores=scores,
        finished=was_finished | tf.equal(new_tokens, eos),
        lengths=tf.where(was_finished, take(alive.lengths), t + 1),
        coverage=coverage,
        attention=kept_attention,
    )


def _write_done(out: Hypotheses, alive: _Alive, done, longest, n_best, eos) -> Hypotheses:
    """Copy the n best hypotheses of the sentences that are done into the results."""
    which = tf.where(done)[:, 0]
    rows = tf.gather(alive.ids, which)[:, None]
    seqs = tf.gather(alive.seqs, which)[:, :n_best]
    pad = longest - tf.shape(seqs)[2]
    tokens = tf.pad(seqs, [[0, 0], [0, 0], [0, pad]], constant_values=eos)
    attention = out.attention
    if not isinstance(attention, tuple):
        kept = tf.gather(alive.attention, which)[:, :n_best]
        attention = tf.tensor_scatter_nd_update(
            attention, rows, tf.pad(kept, [[0, 0], [0, 0], [0, pad], [0, 0]]))
    return Hypotheses(
        tokens=tf.tensor_scatter_nd_update(out.tokens, rows, tokens),
        lengths=tf.tensor_scatter_nd_update(out.lengths, rows, tf.gather(alive.lengths, which)[:, :n_best]),
        scores=tf.tensor_scatter_nd_update(out.scores, rows, tf.gather(alive.scores, which)[:, :n_best]),
        attention=attention,
    )


def _drop(alive: _Alive, state, memory, mask, done, keep, k):
    """Keep `keep` sentences, those still searched first, and only their rows in the step
    function's tensors."""
    which = tf.argsort(tf.cast(done, tf.int32), stable=True)[:keep]
    rows = tf.reshape(which[:, None] * k + tf.range(k), [-1])
    alive = _Alive(*(
        field if isinstance(field, tuple) else tf.gather(field, rows if name == "tokens" else which)
        for name, field in zip(_Alive._fields, alive)
    ))
    state = tf.nest.map_structure(lambda x: tf.gather(x, rows), state)
    memory, mask = tf.nest.map_structure(lambda x: tf.gather(x, which), (memory, mask))
    return alive, state, memory, mask


def _relaxed(loop_vars):
    """Shape invariants: the leading (sentence or row) and time dimensions may change each step."""
    t, alive, state, memory, mask, out = loop_vars

    def rows_first(x):
        return tf.TensorShape([None] + x.shape[1:].as_list())

    k = alive.seqs.shape[1]
    alive_shapes = tf.nest.map_structure(rows_first, alive)._replace(
        seqs=tf.TensorShape([None, k, None]),
        attention=() if isinstance(alive.attention, tuple) else tf.TensorShape([None, k, None, None]),
    )
    return (t.shape, alive_shapes, *tf.nest.map_structure(rows_first, (state, memory, mask)),
            tf.nest.map_structure(lambda x: x.shape, out))
