"""Luong attention (Luong, Pham and Manning 2015, "Effective Approaches to Attention-based
Neural Machine Translation", section 3.1, the "general" score)."""

from __future__ import annotations

import keras
import tensorflow as tf

# Added to the scores of padded source positions: softmax then gives them exactly zero weight.
MASK_VALUE = -1e9


class LuongGeneralAttention(keras.layers.Layer):
    """score(h_t, h_s) = h_t^T W_a h_s, softmax over the unpadded source positions.

    Args:
        query_dim: size of the decoder state h_t.
        memory_dim: size of the encoder outputs h_s.
        initializer: initializer of W_a (no bias, as in the paper).

    The memory is projected once per sentence (`keys = values W_a`, [batch, src_len, query_dim])
    so each decoding step costs one batched dot product instead of a matrix product per position.

    Example:
        >>> attention = LuongGeneralAttention(512, 512)
        >>> keys = attention.project_memory(values)            # [B, S, 512]
        >>> context, weights = attention.attend(h, values, keys, mask)
    """

    def __init__(self, query_dim: int, memory_dim: int, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.query_dim = query_dim
        self.memory_dim = memory_dim
        self.initializer = keras.initializers.get(initializer)
        self.kernel = self.add_weight(
            shape=(memory_dim, query_dim), initializer=self.initializer, name="kernel"
        )

    def project_memory(self, values: tf.Tensor) -> tf.Tensor:
        """[batch, src_len, memory_dim] -> keys [batch, src_len, query_dim]."""
        return tf.matmul(values, tf.cast(self.kernel, values.dtype))

    def attend(self, query, values, keys, mask):
        """One step of attention.

        Args:
            query: [batch, query_dim] decoder state h_t.
            values: [batch, src_len, memory_dim] encoder outputs.
            keys: [batch, src_len, query_dim] from `project_memory`.
            mask: [batch, src_len] bool, False on padding.

        Returns:
            context [batch, memory_dim] and weights [batch, src_len] (rows sum to 1, 0 on padding).
        """
        scores = tf.linalg.matvec(keys, query)  # [batch, src_len]
        scores = tf.where(mask, scores, tf.cast(MASK_VALUE, scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1)
        context = tf.linalg.matvec(values, weights, transpose_a=True)  # [batch, memory_dim]
        return context, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            query_dim=self.query_dim,
            memory_dim=self.memory_dim,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
