"""The encoder-decoder model and its construction from a recipe's model section."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from nmtkit.config import ModelConfig
from nmtkit.losses import projected_token_losses
from nmtkit.models.bridge import Bridge
from nmtkit.models.decoder import RecurrentDecoder
from nmtkit.models.encoder import RecurrentEncoder
from nmtkit.models.noise import DropoutNoise
from nmtkit.models.ntm_decoder import MemoryWriter, NTMDecoder


class Seq2Seq(keras.Model):
    """Recurrent encoder -> bridge -> recurrent decoder with attention, as `config` describes.

    `call((src, tgt_in))` gives teacher-forced logits [batch, tgt_len, tgt_vocab];
    `training_loss` is what training minimises; `encode(src)` and `step_function()` are what
    search uses (see `nmtkit.search`).
    """

    def __init__(self, config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.noise = DropoutNoise(seed)  # every dropout mask of the model, from one generator
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        init = keras.initializers.RandomUniform(-config.init_range, config.init_range)
        dtype = self.dtype_policy
        self.encoder = RecurrentEncoder(
            src_vocab_size, config.embedding_dim, config.encoder_cell, config.encoder_units,
            config.encoder_layers, config.encoder_bidirectional, config.encoder_residual,
            config.dropout, init, noise=self.noise, dtype=dtype, name="encoder",
        )
        self.bridge = Bridge(config.bridge, config.decoder_cell, config.decoder_units,
                             config.decoder_layers, init, dtype=dtype, name="bridge")
        shared = self.encoder.embedding if config.share_embeddings else None
        self.writer = None
        if config.type == "ntm":
            self.writer = MemoryWriter(config.encoder_output_dim, config.memory_size, config.memory_width,
                                       name="writer")
            self.decoder = NTMDecoder(
                tgt_vocab_size, config.embedding_dim, config.decoder_units, config.encoder_output_dim,
                config.memory_size, config.memory_width, config.attention, config.input_feeding,
                config.attention_dropout, config.dropout, config.tie_embeddings, init, noise=self.noise,
                dtype=dtype, name="decoder", embedding=shared,
            )
        else:
            self.decoder = RecurrentDecoder(
                tgt_vocab_size, config.embedding_dim, config.decoder_cell, config.decoder_units,
                config.decoder_layers, config.encoder_output_dim, config.attention,
                config.input_feeding, config.attention_dropout, config.dropout,
                config.tie_embeddings, init, noise=self.noise, dtype=dtype, name="decoder", embedding=shared,
            )

    def encode(self, src, training=False):
        """src [batch, src_len] -> (decoder initial state, memory, mask)."""
        outputs, mask, states = self.encoder(src, training=training)
        initial = self.bridge(states)
        if self.writer is not None:
            state = self.decoder.initial_state(initial, self.writer(outputs, mask))
        else:
            state = self.decoder.initial_state(initial)
        return state, self.decoder.prepare_memory(outputs), mask

    def step_function(self, fixed_weights: bool = False):
        return self.decoder.step_function(fixed_weights)

    def step(self, token, state, memory, mask):
        return self.decoder.step(token, state, memory, mask)

    def call(self, inputs, training=False):
        src, tgt_in = inputs
        state, memory, mask = self.encode(src, training=training)
        return self.decoder(tgt_in, state, memory, mask, training=training)

    def training_loss(self, src, tgt_in, tgt_out, smoothing: float):
        """(summed label-smoothed loss, target tokens) of a batch, teacher-forced with dropout:
        `token_losses` of `call`'s logits, the output layer and the loss computed as one."""
        state, memory, mask = self.encode(src, training=True)
        features = self.decoder.features(tgt_in, state, memory, mask, training=True)
        w = self.decoder.output_weights()
        return projected_token_losses(features, w["output_kernel"], w["output_bias"], tgt_out, smoothing)

    def parameters_by_part(self) -> dict[str, int]:
        """Trainable parameters per component, for `train --dry-run`."""
        def count(variables):
            return int(sum(np.prod(v.shape) for v in variables))

        dec = self.decoder
        parts = {
            "source embedding": count(self.encoder.embedding.weights),
            "encoder RNN": count(v for rnn in self.encoder.rnns for v in rnn.weights),
            "bridge": count(self.bridge.weights),
            "target embedding": 0 if self.config.share_embeddings else count(dec.embedding.weights),
        }
        if self.writer is not None:
            parts["memory writer NTM"] = count(self.writer.weights)
            parts["decoder NTM"] = count(dec.ntm.weights)
        else:
            parts["decoder RNN"] = count(v for rnn in dec.rnns for v in rnn.weights)
        parts.update({
            "attention": count(dec.attention.weights) if dec.attention else 0,
            "attentional output": count([dec.combine_kernel]) if dec.attention or self.writer else 0,
            "output layer": count([dec.output_bias] + ([] if dec.tie_embeddings else [dec.output_kernel])),
        })
        return parts

    def start_embeddings(self, tables: dict, freeze: bool) -> None:
        """Set the embedding tables from `tables` ({"src": array, "tgt": array}, either may be
        missing; a shared table takes the source one if there is one); `freeze` keeps every
        embedding table fixed in training (with tie_embeddings, the output projection too)."""
        layers = {"src": self.encoder.embedding, "tgt": self.decoder.embedding}
        if self.config.share_embeddings and "src" in tables:
            tables = {"src": tables["src"]}
        for side, table in tables.items():
            layers[side].embeddings.assign(table)
        if freeze:
            for layer in layers.values():
                layer.trainable = False

    def get_config(self):
        config = super().get_config()
        config.update(config=dataclasses.asdict(self.config), src_vocab_size=self.src_vocab_size,
                      tgt_vocab_size=self.tgt_vocab_size)
        return config


def build_model(
    config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, precision: str = "float32",
    seed: int = 0,
) -> Seq2Seq:
    """A model with all weights created (so weights can be loaded into it at once).

    `precision` is a Keras dtype policy name: "float32", or "mixed_bfloat16" / "mixed_float16"
    for training; `seed` seeds the dropout masks.
    """
    model = Seq2Seq(config, src_vocab_size, tgt_vocab_size, seed, dtype=precision)
    dummy = np.ones((1, 2), dtype=np.int32)
    model((tf.constant(dummy), tf.constant(dummy)))
    model.decoder.build()  # the step path's weights too, where training takes the other path
    return model
