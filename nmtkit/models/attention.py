"""Attention over the encoder outputs: Luong's dot, general and concat scores (Luong, Pham and
Manning 2015, section 3.1) and Bahdanau's additive score (Bahdanau, Cho and Bengio 2015).

Every variant projects the memory once per sentence (`project_memory` -> keys), so a decoding
step costs one batched product; `attend` serves one step, `attend_sequence` all steps at once
(the decoder's fast path when nothing feeds back). Scores on padding get `MASK_VALUE`, so the
weights over the source sum to 1 and are exactly 0 on padding.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.models.noise import DropoutNoise
from nmtkit.models.arithmetic import dense

# Added to the scores of padded source positions: softmax then gives them exactly zero weight.
MASK_VALUE = -1e9


class Attention(keras.layers.Layer):
    """The shared part: masking, softmax, attention dropout and the weighted sum of values.

    Args:
        query_dim: size of the decoder state that asks.
        memory_dim: size of the encoder outputs.
        dropout: rate on the attention weights (training only).
        initializer: initializer of the variant's weights.
        noise: the `DropoutNoise` to draw dropout masks from (the model shares one).
    """

    def __init__(self, query_dim: int, memory_dim: int, dropout: float = 0.0,
                 initializer="glorot_uniform", noise=None, **kwargs):
        super().__init__(**kwargs)
        self.query_dim = query_dim
        self.memory_dim = memory_dim
        self.dropout = dropout
        self.noise = noise or DropoutNoise()
        self.initializer = keras.initializers.get(initializer)

    def project_memory(self, values):
        """[batch, src_len, memory_dim] -> keys the scores are computed against."""
        return values

    def scores(self, queries, keys):
        """queries [batch, T, query_dim] -> scores [batch, T, src_len]."""
        raise NotImplementedError

    def attend_sequence(self, queries, values, keys, mask, training=False):
        """Attention for T queries at once: context [batch, T, memory_dim], weights [batch, T, src_len]."""
        scores = self.scores(queries, keys)
        scores = tf.where(mask[:, None, :], scores, tf.cast(MASK_VALUE, scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1)
        used = self.noise(weights, self.dropout) if training and self.dropout else weights
        return tf.matmul(used, values), weights

    def attend(self, query, values, keys, mask, training=False):
        """One step: query [batch x k, query_dim], k consecutive rows per sentence (a search's
        hypotheses; k = 1 in training) -> context [batch x k, memory_dim], weights [batch x k,
        src_len]. The k queries of a sentence attend to its one memory row, as T queries do in
        `attend_sequence`."""
        queries = tf.reshape(query, [tf.shape(values)[0], -1, query.shape[-1]])
        context, weights = self.attend_sequence(queries, values, keys, mask, training)
        rows = tf.shape(query)[:1]
        return (tf.reshape(context, tf.concat([rows, tf.shape(context)[2:]], 0)),
                tf.reshape(weights, tf.concat([rows, tf.shape(weights)[2:]], 0)))

    def _kernel(self, name, shape):
        return self.add_weight(shape=shape, initializer=self.initializer, name=name)

    def get_config(self):
        config = super().get_config()
        config.update(query_dim=self.query_dim, memory_dim=self.memory_dim, dropout=self.dropout,
                      initializer=keras.initializers.serialize(self.initializer))
        return config


class LuongDotAttention(Attention):
    """score(h_t, h_s) = h_t . h_s (query and memory of the same size)."""

    def scores(self, queries, keys):
        return tf.matmul(queries, keys, transpose_b=True)


class LuongGeneralAttention(LuongDotAttention):
    """score(h_t, h_s) = h_t^T W_a h_s; W_a [memory_dim, query_dim] without bias, as in the paper."""

    def __init__(self, query_dim, memory_dim, dropout=0.0, initializer="glorot_uniform", noise=None,
                 **kwargs):
        super().__init__(query_dim, memory_dim, dropout, initializer, noise, **kwargs)
        self.kernel = self._kernel("kernel", (memory_dim, query_dim))

    def project_memory(self, values):
        return dense(values, tf.cast(self.kernel, values.dtype))


class AdditiveAttention(Attention):
    """score(q, h_s) = v^T tanh(W_q q + W_k h_s): Luong's "concat" and Bahdanau's score.

    The two differ in the query: Luong's is the current decoder state, Bahdanau's the previous
    one (the decoder decides that, not this layer). The hidden size is `query_dim`.
    """

    def __init__(self, query_dim, memory_dim, dropout=0.0, initializer="glorot_uniform", noise=None,
                 **kwargs):
        super().__init__(query_dim, memory_dim, dropout, initializer, noise, **kwargs)
        self.memory_kernel = self._kernel("memory_kernel", (memory_dim, query_dim))
        self.query_kernel = self._kernel("query_kernel", (query_dim, query_dim))
        self.vector = self._kernel("vector", (query_dim,))

    def project_memory(self, values):
        return dense(values, tf.cast(self.memory_kernel, values.dtype))

    def scores(self, queries, keys):
        projected = dense(queries, tf.cast(self.query_kernel, queries.dtype))  # [B, T, A]
        hidden = tf.tanh(keys[:, None, :, :] + projected[:, :, None, :])  # [B, T, S, A]
        # einsum, not matvec: oneDNN's broadcast batched matmul corrupted the heap on this shape.
        return tf.einsum("btsa,a->bts", hidden, tf.cast(self.vector, hidden.dtype))


VARIANTS = {"luong_dot": LuongDotAttention, "luong_general": LuongGeneralAttention,
            "luong_concat": AdditiveAttention, "bahdanau": AdditiveAttention}
