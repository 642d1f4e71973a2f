"""The encoder-decoder model and its construction from a recipe."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from nmtkit.config import ModelConfig
from nmtkit.models.decoder import InputFeedingDecoder
from nmtkit.models.encoder import BiLSTMEncoder


class Seq2Seq(keras.Model):
    """Bidirectional LSTM encoder -> input-feeding LSTM decoder with Luong attention.

    `call((src, tgt_in))` gives teacher-forced logits [batch, tgt_len, tgt_vocab];
    `encode(src)` and `step(...)` are what search uses (see `nmtkit.search`).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embedding_dim, encoder_units,
                 decoder_units, dropout, init_range, **kwargs):
        super().__init__(**kwargs)
        self.src_vocab_size = src_vocab_size
        self.tgt_vocab_size = tgt_vocab_size
        self.embedding_dim = embedding_dim
        self.encoder_units = encoder_units
        self.decoder_units = decoder_units
        self.dropout = dropout
        self.init_range = init_range
        init = keras.initializers.RandomUniform(-init_range, init_range)
        self.encoder = BiLSTMEncoder(
            src_vocab_size, embedding_dim, encoder_units, dropout, init,
            dtype=self.dtype_policy, name="encoder",
        )
        self.decoder = InputFeedingDecoder(
            tgt_vocab_size, embedding_dim, decoder_units, 2 * encoder_units, dropout, init,
            dtype=self.dtype_policy, name="decoder",
        )

    def encode(self, src, training=False):
        """src [batch, src_len] -> (decoder initial state, memory, mask)."""
        outputs, mask, state = self.encoder(src, training=training)
        return self.decoder.initial_state(state), self.decoder.prepare_memory(outputs), mask

    def step(self, token, state, memory, mask):
        return self.decoder.step(token, state, memory, mask)

    def call(self, inputs, training=False):
        src, tgt_in = inputs
        state, memory, mask = self.encode(src, training=training)
        return self.decoder(tgt_in, state, memory, mask, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            src_vocab_size=self.src_vocab_size,
            tgt_vocab_size=self.tgt_vocab_size,
            embedding_dim=self.embedding_dim,
            encoder_units=self.encoder_units,
            decoder_units=self.decoder_units,
            dropout=self.dropout,
            init_range=self.init_range,
        )
        return config


def build_model(
    config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, precision: str = "float32"
) -> Seq2Seq:
    """A model with all weights created (so weights can be loaded into it at once).

    `precision` is a Keras dtype policy name: "float32", or "mixed_bfloat16" for training.
    """
    model = Seq2Seq(
        src_vocab_size,
        tgt_vocab_size,
        embedding_dim=config.embedding_dim,
        encoder_units=config.encoder_units,
        decoder_units=config.decoder_units,
        dropout=config.dropout,
        init_range=config.init_range,
        dtype=precision,
    )
    dummy = np.ones((1, 2), dtype=np.int32)
    model((tf.constant(dummy), tf.constant(dummy)))
    return model
