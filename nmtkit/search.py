"""Greedy and beam search over a decoder step function, each as one TensorFlow graph loop.

Search never looks at the model type: it takes `step(token, state, memory, mask) ->
(logits, state, attention)` and the encoder's initial `state`, `memory` (any nest of tensors
with the batch first) and `mask` [batch, src_len]. Wrap the calls in `tf.function`.
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = -1e9


def greedy_search(step, state, memory, mask, bos: int, eos: int, max_length):
    """The most likely token at each step. Returns ids [batch, length] (EOS-padded)."""
    batch = tf.shape(mask)[0]
    tokens = tf.fill([batch], bos)
    finished = tf.zeros([batch], tf.bool)
    outputs = tf.TensorArray(tf.int32, size=0, dynamic_size=True)

    def body(t, tokens, state, finished, outputs):
        logits, state, _ = step(tokens, state, memory, mask)
        tokens = tf.where(finished, eos, tf.argmax(logits, -1, output_type=tf.int32))
        return t + 1, tokens, state, finished | tf.equal(tokens, eos), outputs.write(t, tokens)

    def not_done(t, tokens, state, finished, outputs):
        return (t < max_length) & ~tf.reduce_all(finished)

    *_, outputs = tf.while_loop(not_done, body, (0, tokens, state, finished, outputs))
    return tf.transpose(outputs.stack())


def beam_search(step, state, memory, mask, bos: int, eos: int, beam_size: int, max_length):
    """Beam search without length normalisation.

    Keeps `beam_size` hypotheses per sentence, flattened to [batch x beam] for the step function;
    each step takes the top `beam_size` of beam x vocabulary continuations. A hypothesis that
    emitted EOS is frozen: it continues only with EOS at no cost. Scores only fall as hypotheses
    grow, so a sentence is done once its best hypothesis has finished; the loop stops when every
    sentence is done. Returns ids [batch, beam, length] (best first, EOS-padded) and their
    log-probabilities [batch, beam].
    """
    batch = tf.shape(mask)[0]
    flat = batch * beam_size

    def tile(x):
        return tf.repeat(x, beam_size, axis=0)  # [batch, ...] -> [batch x beam, ...]

    state, memory, mask = tf.nest.map_structure(tile, (state, memory, mask))
    # Only the first beam is live at the start, so the first step does not pick duplicates.
    scores = tf.tile(tf.constant([[0.0] + [NEG_INF] * (beam_size - 1)]), [batch, 1])
    tokens = tf.fill([flat], bos)
    finished = tf.zeros([batch, beam_size], tf.bool)
    token_history = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    parent_history = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    offsets = tf.range(batch)[:, None] * beam_size  # [batch, 1]

    def body(t, tokens, state, scores, finished, token_history, parent_history):
        logits, state, _ = step(tokens, state, memory, mask)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        vocab = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [batch, beam_size, vocab])
        eos_only = tf.one_hot(eos, vocab, on_value=0.0, off_value=NEG_INF)
        log_probs = tf.where(finished[..., None], eos_only, log_probs)
        candidates = tf.reshape(scores[..., None] + log_probs, [batch, beam_size * vocab])
        scores, chosen = tf.math.top_k(candidates, k=beam_size)  # sorted, best first
        parents, new_tokens = chosen // vocab, chosen % vocab  # [batch, beam]
        state = tf.nest.map_structure(
            lambda s: tf.gather(s, tf.reshape(parents + offsets, [-1])), state
        )
        finished = tf.gather(finished, parents, batch_dims=1) | tf.equal(new_tokens, eos)
        return (t + 1, tf.reshape(new_tokens, [-1]), state, scores, finished,
                token_history.write(t, new_tokens), parent_history.write(t, parents))

    def not_done(t, tokens, state, scores, finished, *_):
        return (t < max_length) & ~tf.reduce_all(finished[:, 0])

    loop = tf.while_loop(
        not_done, body,
        (0, tokens, state, scores, finished, token_history, parent_history),
    )
    length, scores = loop[0], loop[3]
    return _backtrack(loop[5].stack(), loop[6].stack(), length, batch, beam_size), scores


def _backtrack(tokens, parents, length, batch, beam_size):
    """Follow parent pointers back from the final beams: [time, batch, beam] -> [batch, beam, time]."""
    beams = tf.tile(tf.range(beam_size)[None], [batch, 1])
    out = tf.TensorArray(tf.int32, size=length)

    def body(t, beams, out):
        out = out.write(t, tf.gather(tokens[t], beams, batch_dims=1))
        return t - 1, tf.gather(parents[t], beams, batch_dims=1), out

    _, _, out = tf.while_loop(lambda t, *_: t >= 0, body, (length - 1, beams, out))
    return tf.transpose(out.stack(), [1, 2, 0])
