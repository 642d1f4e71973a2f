"""The recurrent encoder: embeddings, then a stack of LSTM, GRU or plain RNN layers, each
optionally bidirectional (Schuster and Paliwal 1997; Bahdanau et al. 2015, section 3.2)."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.data.vocab import PAD
from nmtkit.models.noise import DropoutNoise
from nmtkit.models.lstm_loop import bidirectional_lstm
from nmtkit.models.recurrence import cudnn_available, rnn_layer, state_size


class RecurrentEncoder(keras.layers.Layer):
    """Embeds source ids and runs `layers` recurrent layers over them.

    Args:
        vocab_size, embedding_dim: the source embedding table.
        cell: "lstm", "gru" or "rnn".
        units: units per direction; outputs have `output_dim` = units x (2 if bidirectional).
        layers: stacked layers; dropout applies between them.
        bidirectional: run each layer both ways and concatenate.
        residual: add each layer's input to its output, from the second layer on (where the sizes
            agree), which helps deep stacks train (Wu et al. 2016).
        dropout: rate on the embeddings and between layers (training only).
        initializer: initializer of every weight.

    Padding (id 0) is masked: the layers skip it, so each direction's final state is that of the
    last real token, whatever the padding. Where no GPU offers cuDNN, a bidirectional LSTM runs
    as `bidirectional_lstm` (nmtkit.models.lstm_loop) on the Keras layer's weights: the same
    arithmetic, faster on a CPU.

    Returns from `call(src)`: outputs [batch, src_len, output_dim], mask [batch, src_len] (bool)
    and, per layer, the final state tuple ((h, c) for an LSTM, (h,) otherwise), each
    [batch, output_dim] with the directions concatenated.
    """

    def __init__(self, vocab_size, embedding_dim, cell="lstm", units=256, layers=1,
                 bidirectional=True, residual=False, dropout=0.0, initializer="glorot_uniform",
                 noise=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.cell, self.units, self.layers = cell, units, layers
        self.bidirectional, self.residual, self.dropout = bidirectional, residual, dropout
        self.noise = noise or DropoutNoise()
        self.initializer = keras.initializers.get(initializer)
        self.output_dim = units * (2 if bidirectional else 1)
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=self.initializer,
            dtype=self.dtype_policy, name="embedding",
        )
        self.rnns = []
        for i in range(layers):
            rnn = rnn_layer(cell, units, self.initializer, self.dtype_policy, f"{cell}_{i}")
            if bidirectional:
                rnn = keras.layers.Bidirectional(rnn, dtype=self.dtype_policy, name=f"bi{cell}_{i}")
            self.rnns.append(rnn)

    def call(self, src, training=False):
        mask = tf.not_equal(src, PAD)
        x = self._dropout(self.embedding(src), training)
        states = []
        hand_written = self.cell == "lstm" and self.bidirectional and not cudnn_available()
        for i, rnn in enumerate(self.rnns):
            if hand_written:
                outputs, final = bidirectional_lstm(rnn, x, mask, training)
            else:
                outputs, *final = rnn(x, mask=mask, training=training)
            if self.bidirectional:  # forward states, then backward: join each pair
                n = state_size(self.cell)
                final = [tf.concat([f, b], -1) for f, b in zip(final[:n], final[n:])]
            states.append(tuple(final))
            if self.residual and i > 0:
                outputs = outputs + x
            x = outputs if i == len(self.rnns) - 1 else self._dropout(outputs, training)
        return x, mask, states

    def _dropout(self, x, training):
        return self.noise(x, self.dropout) if training and self.dropout else x

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_dim=self.embedding_dim, cell=self.cell,
            units=self.units, layers=self.layers, bidirectional=self.bidirectional,
            residual=self.residual, dropout=self.dropout,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
