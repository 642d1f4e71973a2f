"""The bidirectional LSTM encoder (Schuster and Paliwal 1997; Bahdanau et al. 2015, section 3.2)."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.data.vocab import PAD


class BiLSTMEncoder(keras.layers.Layer):
    """Embeds source ids and runs a one-layer bidirectional LSTM over them.

    Args:
        vocab_size: number of source ids.
        embedding_dim: size of the source embeddings.
        units: LSTM units per direction; outputs have 2 x units features.
        dropout: dropout rate on the embeddings (training only).
        initializer: initializer of every weight.

    Padding (id 0) is masked: the LSTMs skip it, so each direction's final state is that of the
    last real token, whatever the padding.

    Returns from `call(src)`: outputs [batch, src_len, 2 x units], mask [batch, src_len] (bool),
    and the final state (h, c), each [batch, 2 x units] (forward and backward concatenated).
    """

    def __init__(self, vocab_size, embedding_dim, units, dropout=0.0, initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.initializer = keras.initializers.get(initializer)
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=self.initializer,
            dtype=self.dtype_policy, name="embedding",
        )
        lstm = keras.layers.LSTM(
            units,
            return_sequences=True,
            return_state=True,
            kernel_initializer=self.initializer,
            recurrent_initializer=self.initializer,
            bias_initializer=self.initializer,
            unit_forget_bias=False,
            dtype=self.dtype_policy,
            name="lstm",
        )
        self.rnn = keras.layers.Bidirectional(lstm, dtype=self.dtype_policy, name="bilstm")

    def call(self, src, training=False):
        mask = tf.not_equal(src, PAD)
        x = self.embedding(src)
        if training and self.dropout:
            x = tf.nn.dropout(x, self.dropout)
        outputs, fw_h, fw_c, bw_h, bw_c = self.rnn(x, mask=mask, training=training)
        state = (tf.concat([fw_h, bw_h], -1), tf.concat([fw_c, bw_c], -1))
        return outputs, mask, state

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_dim=self.embedding_dim,
            units=self.units,
            dropout=self.dropout,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
