"""The NTM translation model's parts (recipe `model.type: ntm`): a writer that stores the encoded
source in an NTM memory, and a decoder whose recurrence is an NTM reading (and rewriting) it.

The encoder (any of nmtkit's) runs first; the writer, an NTM with a feed-forward controller
(nmtkit.models.ntm.NTMCell), steps over the encoder outputs and writes them into its N x M
memory; the decoder's NTM starts from that memory. Optionally the decoder also attends over the
encoder outputs as the RNN decoder does (Luong et al. 2015), so the memory adds to attention.
The memory arithmetic runs in float32 whatever the precision policy: addressing sharpens
weightings with powers and softmaxes over all rows, which bfloat16 would blur.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.models.attention import VARIANTS
from nmtkit.models.decoder import DecoderBase
from nmtkit.models.noise import DropoutNoise
from nmtkit.models.ntm import NTMCell


class MemoryWriter(keras.layers.Layer):
    """Encoder outputs [batch, src_len, dim] and mask -> the written memory [batch, N * M].
    Padding steps write nothing (the RNN keeps its state over them)."""

    def __init__(self, units, memory_size, memory_width, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the mask is an argument: padding steps are skipped
        self.units, self.memory_size, self.memory_width = units, memory_size, memory_width
        self.cell = NTMCell(units, "feedforward", memory_size, memory_width, dtype="float32", name="cell")
        self.rnn = keras.layers.RNN(self.cell, return_state=True, dtype="float32", name="rnn")

    def call(self, outputs, mask):
        _, memory, _reads, _weights = self.rnn(tf.cast(outputs, tf.float32), mask=mask)
        return memory

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, memory_size=self.memory_size, memory_width=self.memory_width)
        return config


class NTMDecoder(DecoderBase):
    """Predicts target tokens one step at a time with an NTM as its recurrence.

    At step t, with target embedding e_t and the previous attentional output o_{t-1}:

        [h_t; r_t] = NTM([e_t; o_{t-1}])    LSTM controller h_t, reads r_t from the memory
        context c_t = attention(h_t, encoder outputs)    (when attention is not "none")
        o_t = dropout(tanh(W_c [c_t; h_t; r_t]));  logits_t = W_o o_t + b_o

    o_{t-1} enters only with input feeding. The controller starts from the bridge's (h, c); the
    memory from MemoryWriter; read vectors and weightings from the NTM's learned initial ones.

    Args:
        vocab_size, embedding_dim: the target embedding table.
        units: the controller LSTM's units (= attentional output size).
        memory_dim: size of the encoder outputs.
        memory_size, memory_width: the NTM memory, N rows of M numbers.
        attention, input_feeding, attention_dropout, dropout, tie_embeddings, initializer,
            embedding: as for RecurrentDecoder.

    State: (NTM state tuple (h, c, memory, reads, weightings), o or ()). Memory: (values, keys).
    """

    feeds_back = True  # every step needs the NTM's previous memory: no whole-sequence path

    def __init__(self, vocab_size, embedding_dim, units=512, memory_dim=512, memory_size=128,
                 memory_width=64, attention="luong_general", input_feeding=True, attention_dropout=0.0,
                 dropout=0.0, tie_embeddings=False, initializer="glorot_uniform", noise=None, embedding=None,
                 **kwargs):
        super().__init__(autocast=False, **kwargs)  # the NTM state stays float32 (module docstring)
        self.vocab_size, self.embedding_dim, self.units, self.memory_dim = vocab_size, embedding_dim, units, memory_dim
        self.memory_size, self.memory_width = memory_size, memory_width
        self.attention_kind, self.input_feeding = attention, input_feeding
        self.attention_dropout, self.dropout, self.tie_embeddings = attention_dropout, dropout, tie_embeddings
        self.noise = noise or DropoutNoise()
        self.initializer = init = keras.initializers.get(initializer)
        self.embedding = embedding or keras.layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=init, dtype=self.dtype_policy, name="embedding")
        self.ntm = NTMCell(units, "lstm", memory_size, memory_width, dtype="float32", name="ntm")
        self.ntm.build((None, embedding_dim + (units if input_feeding else 0)))  # encode() needs its start
        self.attention = None
        combined = units + memory_width
        if attention != "none":
            self.attention = VARIANTS[attention](units, memory_dim, attention_dropout, init, noise=self.noise,
                                                 dtype=self.dtype_policy, name="attention")
            combined += memory_dim
        self.combine_kernel = self.add_weight((combined, units), init, name="combine_kernel")
        if not tie_embeddings:
            self.output_kernel = self.add_weight((units, vocab_size), init, name="output_kernel")
        self.output_bias = self.add_weight((vocab_size,), init, name="output_bias")

    def build(self, input_shape=None):
        if not self.embedding.built:
            self.embedding.build()
        self.built = True

    def initial_state(self, rnn_states, written):
        """rnn_states: the bridge's per-layer (h, c); written: MemoryWriter's memory."""
        h, c = (tf.cast(s, tf.float32) for s in rnn_states[0])
        _, _, _, reads, weights = self.ntm.get_initial_state(batch_size=tf.shape(h)[0])
        feed = tf.zeros((tf.shape(h)[0], self.units), self.compute_dtype) if self.input_feeding else ()
        return (h, c, written, reads, weights), feed

    def features(self, tgt_in, state, memory, mask, training=False):
        """Teacher-forced attentional outputs [batch, tgt_len, units] (the output layer's input)."""
        w = self._weights()
        x = self._dropout(self.embedding(tgt_in), training)
        steps = tf.transpose(x, [1, 0, 2])
        length = tf.shape(steps)[0]
        outputs = tf.TensorArray(x.dtype, size=length)

        def body(t, state, outputs):
            o, state, _ = self._step(w, steps[t], state, memory, mask, training)
            return t + 1, state, outputs.write(t, o)

        *_, outputs = tf.while_loop(lambda t, *_: t < length, body, (tf.constant(0), state, outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])

    def step_function(self, fixed_weights: bool = False):
        """step(token [rows], state, memory, mask) -> logits [rows, vocab], new state,
        attention [rows, src_len] (zeros without attention), with k consecutive rows per
        sentence of memory and mask (see nmtkit.search). `fixed_weights` changes nothing
        here: the controller's input product is not separable from its memory reads."""
        w = self._weights()

        def step(token, state, memory, mask):
            o, state, attention = self._step(w, self.embedding(token), state, memory, mask, training=False)
            return tf.matmul(o, w["output_kernel"]) + w["output_bias"], state, attention

        return step

    def _step(self, w, embedded, state, memory, mask, training):
        ntm_state, feed = state
        x = tf.concat([embedded, feed], -1) if self.input_feeding else embedded
        out, ntm_state = self.ntm(tf.cast(x, tf.float32), list(ntm_state))
        out = tf.cast(out, embedded.dtype)
        h = out[:, : self.units]
        values, keys = memory
        if self.attention is None:
            weights = tf.zeros([tf.shape(h)[0], tf.shape(mask)[1]], h.dtype)
            combined = out
        else:
            context, weights = self.attention.attend(h, values, keys, mask, training)
            combined = tf.concat([context, out], -1)
        o = self._dropout(tf.tanh(tf.matmul(combined, w["combine_kernel"])), training)
        return o, (tuple(ntm_state), o if self.input_feeding else ()), weights

    def _weights(self):
        return {"combine_kernel": self._cast(self.combine_kernel), **self.output_weights()}

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_dim=self.embedding_dim, units=self.units,
            memory_dim=self.memory_dim, memory_size=self.memory_size, memory_width=self.memory_width,
            attention=self.attention_kind, input_feeding=self.input_feeding,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            tie_embeddings=self.tie_embeddings, initializer=keras.initializers.serialize(self.initializer),
        )
        return config
