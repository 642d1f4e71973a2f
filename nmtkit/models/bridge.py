"""The bridge: the decoder's initial state from the encoder's final states."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.models.recurrence import state_size


class Bridge(keras.layers.Layer):
    """`copy` the encoder's final states, map them through `dense` layers (tanh), or start from `zero`.

    Decoder layer l starts from encoder layer l when both stacks have the same depth, otherwise
    every decoder layer starts from the top encoder layer. An LSTM decoder fed by a GRU or plain
    RNN encoder, which has no cell state, starts its cell state from zero (copy) or from h (dense).

    Args:
        kind: "copy", "dense" or "zero".
        decoder_cell, decoder_units, decoder_layers: the decoder stack to start.
        initializer: initializer of the dense layers.
    """

    def __init__(self, kind, decoder_cell, decoder_units, decoder_layers,
                 initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kind, self.decoder_cell = kind, decoder_cell
        self.decoder_units, self.decoder_layers = decoder_units, decoder_layers
        self.initializer = keras.initializers.get(initializer)
        # One dense layer per decoder layer and state tensor, in that order.
        self.dense = [
            keras.layers.Dense(decoder_units, activation="tanh", kernel_initializer=self.initializer,
                               bias_initializer=self.initializer, dtype=self.dtype_policy,
                               name=f"dense_{l}_{j}")
            for l in range(decoder_layers) for j in range(state_size(decoder_cell))
        ] if kind == "dense" else []

    def call(self, encoder_states):
        """Per-layer encoder state tuples -> per-layer decoder state tuples."""
        states = []
        for l in range(self.decoder_layers):
            source = encoder_states[l if len(encoder_states) == self.decoder_layers else -1]
            state = []
            for j in range(state_size(self.decoder_cell)):
                if self.kind == "zero":
                    state.append(tf.zeros([tf.shape(source[0])[0], self.decoder_units], source[0].dtype))
                elif self.kind == "dense":
                    dense = self.dense[l * state_size(self.decoder_cell) + j]
                    state.append(dense(source[min(j, len(source) - 1)]))
                else:  # copy
                    state.append(source[j] if j < len(source) else tf.zeros_like(source[0]))
            states.append(tuple(state))
        return tuple(states)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, decoder_cell=self.decoder_cell,
                      decoder_units=self.decoder_units, decoder_layers=self.decoder_layers,
                      initializer=keras.initializers.serialize(self.initializer))
        return config
