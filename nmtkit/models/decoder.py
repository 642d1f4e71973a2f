"""The recurrent decoder: a stack of LSTM, GRU or plain RNN layers with optional attention and
input feeding (Luong, Pham and Manning 2015, sections 3 and 3.3; Bahdanau et al. 2015)."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmtkit.models.attention import VARIANTS
from nmtkit.models.luong_loop import luong_lstm_loop
from nmtkit.models.noise import DropoutNoise
from nmtkit.models.arithmetic import dense, elementwise_dtype
from nmtkit.models.recurrence import cell_step, input_bias, rnn_layer

# Largest embedding x input-kernel table a translating decoder keeps (35 MB for the reference
# model's 4,274 targets x 2,048 gates); beyond it the memory is worth more than the products saved.
GATE_TABLE_BYTES = 64 * 2**20


class DecoderBase(keras.layers.Layer):
    """What the decoders share around their recurrence: attention keys, the output projection
    (optionally tied to the target embeddings), dropout, and `step` for one search step."""

    def prepare_memory(self, values):
        keys = self.attention.project_memory(values) if self.attention else values
        return values, keys

    def step(self, token, state, memory, mask):
        """One search step (see `step_function`)."""
        return self.step_function()(token, state, memory, mask)

    def _cast(self, v):
        """A weight in the compute dtype (bfloat16 under a mixed-precision policy)."""
        return tf.cast(v, self.compute_dtype)

    def call(self, tgt_in, state, memory, mask, training=False):
        """Teacher-forced logits [batch, tgt_len, vocab] for inputs tgt_in [batch, tgt_len]."""
        w = self.output_weights()
        return dense(self.features(tgt_in, state, memory, mask, training), w["output_kernel"]) + w["output_bias"]

    def output_weights(self) -> dict:
        """The output layer's kernel [units, vocab] and bias in the compute dtype."""
        cast = self._cast
        kernel = tf.transpose(cast(self.embedding.embeddings)) if self.tie_embeddings else cast(self.output_kernel)
        return {"output_kernel": kernel, "output_bias": cast(self.output_bias)}

    def _dropout(self, x, training):
        return self.noise(x, self.dropout) if training and self.dropout else x


class RecurrentDecoder(DecoderBase):
    """Predicts target tokens one step at a time from the encoder outputs.

    At step t, with target embedding e_t, the top layer's state h_t and the previous
    attentional output o_{t-1}:

        Luong (dot, general, concat):  h_t = RNN([e_t; o_{t-1}], h_{t-1});  a_t from h_t
        Bahdanau:                      a_t from h_{t-1};  h_t = RNN([e_t; c_t; o_{t-1}], h_{t-1})
        context c_t = a_t H_s;  o_t = dropout(tanh(W_c [c_t; h_t]));  logits_t = W_o o_t + b_o

    o_{t-1} enters only with input feeding; with attention "none", o_t = dropout(h_t). Deeper
    stacks feed each layer's h (after dropout) to the next; attention uses the top layer.

    Args:
        vocab_size, embedding_dim: the target embedding table.
        cell: "lstm", "gru" or "rnn"; units, layers: the stack.
        memory_dim: size of the encoder outputs.
        attention: "luong_general", "luong_dot", "luong_concat", "bahdanau" or "none".
        input_feeding: feed o_{t-1} into the first layer.
        attention_dropout: rate on the attention weights; dropout: on the embeddings, between
            layers and on o_t (training only).
        tie_embeddings: use the target embeddings as the output projection (W_o = E^T).
        embedding: an Embedding layer to use (the encoder's, when source and target share one).
        initializer: initializer of every weight.

    Speed: with nothing fed back (Luong attention or none, no input feeding) teacher-forced
    training runs each layer over the whole sequence at once (cuDNN on a GPU) and attends for
    all steps in one product. Otherwise the recurrence runs as one `tf.while_loop` in the
    compiled graph, the embedding's share of the first layer's input product computed once for
    the whole sequence: for one LSTM layer with Luong dot or general attention and input
    feeding (the reference recipe) as `luong_lstm_loop`, whose backward pass is written out
    (nmtkit.models.luong_loop), else as a loop of `_step` that TensorFlow differentiates.
    `step_function` serves search with the same arithmetic (`_step`).
    State: (per-layer state tuples, o or ()). Memory: (values, keys) from `prepare_memory`.
    """

    def __init__(self, vocab_size, embedding_dim, cell="lstm", units=512, layers=1, memory_dim=512,
                 attention="luong_general", input_feeding=True, attention_dropout=0.0, dropout=0.0,
                 tie_embeddings=False, initializer="glorot_uniform", noise=None, embedding=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.cell, self.units, self.layers, self.memory_dim = cell, units, layers, memory_dim
        self.attention_kind, self.input_feeding = attention, input_feeding
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.tie_embeddings = tie_embeddings
        self.noise = noise or DropoutNoise()
        self.initializer = init = keras.initializers.get(initializer)
        self.embedding = embedding or keras.layers.Embedding(  # given: shared with the encoder
            vocab_size, embedding_dim, embeddings_initializer=init, dtype=self.dtype_policy,
            name="embedding",
        )
        self.rnns = [rnn_layer(cell, units, init, self.dtype_policy, f"{cell}_{i}") for i in range(layers)]
        self.attention = None
        if attention != "none":
            self.attention = VARIANTS[attention](units, memory_dim, attention_dropout, init, noise=self.noise,
                                                 dtype=self.dtype_policy, name="attention")
            self.combine_kernel = self.add_weight((memory_dim + units, units), init, name="combine_kernel")
        if not tie_embeddings:
            self.output_kernel = self.add_weight((units, vocab_size), init, name="output_kernel")
        self.output_bias = self.add_weight((vocab_size,), init, name="output_bias")
        self._table = None  # `_gate_table`'s, once made

    @property
    def feeds_back(self) -> bool:
        """Whether step t needs step t-1's output beyond the RNN state (no whole-sequence path)."""
        return self.input_feeding or self.attention_kind == "bahdanau"

    def build(self, input_shape=None):
        if not self.embedding.built:
            self.embedding.build()
        first_input = self.embedding_dim + (self.units if self.input_feeding else 0) + (
            self.memory_dim if self.attention_kind == "bahdanau" else 0)
        for i, rnn in enumerate(self.rnns):
            rnn.build((None, None, first_input if i == 0 else self.units))
        self.built = True

    def initial_state(self, rnn_states):
        feed = tf.zeros_like(rnn_states[-1][0]) if self.input_feeding else ()
        return tuple(rnn_states), feed

    def features(self, tgt_in, state, memory, mask, training=False):
        """Teacher-forced attentional outputs [batch, tgt_len, units] (the output layer's input)."""
        w = self._weights()
        x = self._dropout(self.embedding(tgt_in), training)
        if self.feeds_back:
            return self._run_loop(w, x, state, memory, mask, training)
        return self._run_whole_sequence(w, x, state, memory, mask, training)

    def step_function(self, fixed_weights: bool = False):
        """The search step, with the weights cast to the compute dtype once, outside the loop:
        step(token [rows], state, memory, mask) -> logits [rows, vocab], new state,
        attention [rows, src_len], with k consecutive rows (hypotheses) per sentence of memory
        and mask (see nmtkit.search).

        `fixed_weights` (translation, where the weights never change once it starts, not
        validation during training): the embedding's share of the first layer's input product
        is looked up per token in `_gate_table`, a tenth of a reference-model step's arithmetic.
        """
        w = self._weights()
        table = self._gate_table() if fixed_weights else None
        # Sums in float32 under bfloat16 products, as the cell's own (see `cell_step`).
        wide = elementwise_dtype(w["first_bias"].dtype)
        bias = tf.cast(w["first_bias"], wide)

        def step(token, state, memory, mask):
            if table is None:
                products = tf.matmul(self.embedding(token), w["first_embedding_kernel"])
            else:
                products = tf.gather(table, token)
            gates = tf.cast(products, wide) + bias
            o, state, attention = self._step(w, gates, state, memory, mask, training=False)
            return tf.matmul(o, w["output_kernel"]) + w["output_bias"], state, attention

        return step

    def _gate_table(self):
        """[vocab, gates]: every target token's embedding times the first layer's input kernel,
        made once from the weights, outside any graph being traced, and kept as a variable that
        search graphs read (and a kept or exported graph saves with the weights): made inside
        the graph, it took 16 ms of every batch of 64 sentences. None when the table would pass
        `GATE_TABLE_BYTES`. The bias is added per step, to the rows looked up: added to the
        whole bfloat16 table, Grappler's fused product held 64 MiB of temporaries."""
        if self._table is None:
            with tf.init_scope():
                kernel = self._weights()["first_embedding_kernel"]
                if self.vocab_size * kernel.shape[1] * kernel.dtype.size > GATE_TABLE_BYTES:
                    return None
                table = tf.matmul(self._cast(self.embedding.embeddings), kernel)
                self._table = tf.Variable(table, trainable=False, name="gate_table")
        return self._table

    def _run_whole_sequence(self, w, x, state, memory, mask, training):
        rnn_states, _ = state
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                x = self._dropout(x, training)
            x, *_ = rnn(x, initial_state=list(rnn_states[i]), training=training)
        if self.attention is None:
            return self._dropout(x, training)
        values, keys = memory
        context, _ = self.attention.attend_sequence(x, values, keys, mask, training)
        return self._attentional(w, context, x, training)

    @property
    def hand_differentiated(self) -> bool:
        """Whether training runs `luong_lstm_loop` (the reference decoder and its dot variant)."""
        return (self.cell == "lstm" and self.layers == 1 and self.input_feeding and not self.attention_dropout
                and self.attention_kind in ("luong_general", "luong_dot"))

    def _run_loop(self, w, x, state, memory, mask, training):
        gates = dense(tf.transpose(x, [1, 0, 2]), w["first_embedding_kernel"]) + w["first_bias"]  # [T, batch, G]
        state = tf.nest.map_structure(lambda s: tf.cast(s, x.dtype), state)
        if self.hand_differentiated:
            ((h, c),), feed = state
            keep = None
            if training and self.dropout:  # every step's mask on o_t at once: [T, batch, units]
                keep = self.noise.scale(tf.concat([tf.shape(gates)[:1], tf.shape(h)], 0), self.dropout, x.dtype)
            outputs = luong_lstm_loop(gates, h, c, feed, *memory, mask, w["first_fed_kernel"], w["recurrent"][0],
                                      w["combine_kernel"], keep)
            return tf.transpose(outputs, [1, 0, 2])
        return self._run_stepwise(w, gates, state, memory, mask, training)

    def _run_stepwise(self, w, gates, state, memory, mask, training):
        """The recurrence as a loop of `_step`, differentiated by TensorFlow."""
        length = tf.shape(gates)[0]
        outputs = tf.TensorArray(gates.dtype, size=length)

        def body(t, state, outputs):
            o, state, _ = self._step(w, gates[t], state, memory, mask, training)
            return t + 1, state, outputs.write(t, o)

        *_, outputs = tf.while_loop(lambda t, *_: t < length, body, (tf.constant(0), state, outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])  # [batch, tgt_len, units]

    def _step(self, w, gates, state, memory, mask, training):
        """One decoder step; `gates` holds the embedding's share of the first layer's input product."""
        rnn_states, feed = state
        values, keys = memory
        weights = None
        fed = []
        if self.attention_kind == "bahdanau":  # attends from the previous top state
            context, weights = self.attention.attend(rnn_states[-1][0], values, keys, mask, training)
            fed.append(context)
        if self.input_feeding:
            fed.append(feed)
        if fed:
            gates = gates + tf.cast(tf.matmul(tf.concat(fed, -1), w["first_fed_kernel"]), gates.dtype)
        new_states = []
        for i in range(self.layers):
            if i > 0:
                h = self._dropout(new_states[-1][0], training)
                gates = tf.matmul(h, w["kernel"][i]) + input_bias(self.cell, w["bias"][i])
            new_states.append(cell_step(self.cell, gates, rnn_states[i], w["recurrent"][i], w["bias"][i]))
        h = new_states[-1][0]
        if self.attention is None:
            o = self._dropout(h, training)
            weights = tf.zeros([tf.shape(h)[0], tf.shape(mask)[1]], h.dtype)
        else:
            if self.attention_kind != "bahdanau":
                context, weights = self.attention.attend(h, values, keys, mask, training)
            o = self._attentional(w, context, h, training)
        return o, (tuple(new_states), o if self.input_feeding else ()), weights

    def _attentional(self, w, context, h, training):
        return self._dropout(tf.tanh(tf.matmul(tf.concat([context, h], -1), w["combine_kernel"])), training)

    def _weights(self):
        """The weights in the compute dtype (bfloat16 under a mixed-precision policy)."""
        cast = self._cast
        cells = [rnn.cell for rnn in self.rnns]
        w = {"kernel": [cast(c.kernel) for c in cells],
             "recurrent": [cast(c.recurrent_kernel) for c in cells],
             "bias": [cast(c.bias) for c in cells],
             **self.output_weights()}
        # split, not sliced: the gradient of a slice writes a whole zero kernel per slice
        w["first_embedding_kernel"], w["first_fed_kernel"] = tf.split(w["kernel"][0], [self.embedding_dim, -1])
        w["first_bias"] = input_bias(self.cell, w["bias"][0])
        if self.attention is not None:
            w["combine_kernel"] = cast(self.combine_kernel)
        return w

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_dim=self.embedding_dim, cell=self.cell,
            units=self.units, layers=self.layers, memory_dim=self.memory_dim,
            attention=self.attention_kind, input_feeding=self.input_feeding,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            tie_embeddings=self.tie_embeddings,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
