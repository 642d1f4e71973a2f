"""The Neural Turing Machine (Graves, Wayne and Danihelka 2014): a controller network with a
differentiable external memory, as a Keras RNN cell, with the stability measures of Collier and
Beel 2018 ("Implementing Neural Turing Machines").

Addressing (Graves et al., section 3.3) is written as small functions over batched tensors so
tests can check them against hand-computed values:

    content_weights   w_c = softmax(beta * cosine(k, M_i))                      (3.3.1, eq. 5-6)
    interpolate       w_g = g w_c + (1 - g) w_{t-1}                              (3.3.2, eq. 7)
    shift             w~_i = sum_j w_g[(i - j) mod N] s_j, j in -S..S            (3.3.2, eq. 8)
    sharpen           w_i = w~_i^gamma / sum_k w~_k^gamma                        (3.3.2, eq. 9)
    read              r = sum_i w_i M_i                                          (3.1, eq. 2)
    write             M_i <- M_i (1 - w_i e) + w_i a                              (3.2, eq. 3-4)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from nmtkit.models.recurrence import cell_step

EPSILON = 1e-8


def content_weights(memory, key, strength):
    """memory [batch, N, M], key [batch, heads, M], strength [batch, heads, 1]
    -> [batch, heads, N]: softmax over rows of strength x cosine similarity."""
    dots = tf.einsum("bhm,bnm->bhn", key, memory)
    norms = tf.norm(key, axis=-1)[:, :, None] * tf.norm(memory, axis=-1)[:, None, :]
    return tf.nn.softmax(strength * dots / (norms + EPSILON), axis=-1)


def interpolate(content, previous, gate):
    """content, previous [batch, heads, N], gate [batch, heads, 1] in [0, 1]."""
    return gate * content + (1.0 - gate) * previous


def shift(weights, shifts):
    """Circular convolution: weights [batch, heads, N], shifts [batch, heads, 2S + 1] (a
    distribution over offsets -S..S) -> [batch, heads, N]. Offset +1 moves the focus one row on."""
    span = shifts.shape[-1] // 2
    rolled = [tf.roll(weights, offset, axis=-1) for offset in range(-span, span + 1)]
    return tf.einsum("bhon,bho->bhn", tf.stack(rolled, axis=2), shifts)


def sharpen(weights, gamma):
    """weights [batch, heads, N], gamma [batch, heads, 1] >= 1 -> renormalised weights^gamma.

    Computed as softmax(gamma log w): w^gamma itself underflows to 0 in every row for a large
    gamma (e.g. (1/128)^200), and 0 / 0 made a translation model's loss NaN."""
    return tf.nn.softmax(gamma * tf.math.log(weights + EPSILON), axis=-1)


def read(memory, weights):
    """memory [batch, N, M], weights [batch, heads, N] -> [batch, heads, M]."""
    return tf.einsum("bhn,bnm->bhm", weights, memory)


def write(memory, weights, erase, add):
    """memory [batch, N, M]; weights [batch, heads, N]; erase in [0, 1] and add [batch, heads, M].
    Each head erases then adds in turn (the paper's order for several write heads)."""
    for h in range(weights.shape[1]):
        w = weights[:, h, :, None]  # [batch, N, 1]
        memory = memory * (1.0 - w * erase[:, h, None, :]) + w * add[:, h, None, :]
    return memory


class NTMCell(keras.layers.Layer):
    """One NTM step: controller, then the write heads, then the read heads.

    At step t with input x_t and the previous reads r_{t-1}:

        h_t = controller([x_t; r_{t-1}])    clipped to +-controller_clip (Collier and Beel, 3.2)
        each head's parameters from h_t: key tanh, strength softplus, gate sigmoid, shift
        softmax over -S..S, sharpening 1 + softplus; write heads also erase sigmoid, add tanh
        memory written by the write heads, then read by the read heads -> r_t
        output = [h_t; r_t]                 (a layer on top maps it to the task's outputs)

    Stability (Collier and Beel 2018, section 3): memory starts as a small constant (1e-6);
    initial read vectors (tanh-bounded) and initial head weightings (softmax, starting focused on
    row 0) are learned; head activations are bounded as above; controller outputs are clipped;
    clip gradients in training.

    Args:
        units: controller size.
        controller: "lstm" or "feedforward" (one tanh layer: all memory of the past is then in the
            external memory and the reads).
        memory_size, memory_width: N rows of M numbers (default 128 x 20).
        read_heads, write_heads: how many of each.
        shift_range: S, the largest shift of a head's focus per step (default 1: -1, 0, +1).
        controller_clip: bound of the controller's output.
        keep_place: start the heads biased to stay where they are (see `_keep_place_bias`).

    State (flat, so `keras.layers.RNN` can carry it): [h, c] (LSTM; feedforward: none), memory
    [batch, N * M], reads [batch, read_heads * M], weightings [batch, (read + write heads) * N]
    (read heads first). Output: [batch, units + read_heads * M].

    Example:
        rnn = keras.layers.RNN(NTMCell(100), return_sequences=True)
        y = keras.layers.Dense(8)(rnn(x))  # x [batch, time, features]
    """

    def __init__(self, units, controller="lstm", memory_size=128, memory_width=20, read_heads=1,
                 write_heads=1, shift_range=1, controller_clip=20.0, keep_place=False, **kwargs):
        super().__init__(**kwargs)
        if controller not in ("lstm", "feedforward"):
            raise ValueError(f"controller must be lstm or feedforward, got {controller!r}")
        self.units, self.controller = units, controller
        self.memory_size, self.memory_width = memory_size, memory_width
        self.read_heads, self.write_heads = read_heads, write_heads
        self.shift_range, self.controller_clip = shift_range, controller_clip
        self.keep_place = keep_place
        self.heads = read_heads + write_heads
        # per head: key M, strength, gate, shifts 2S+1, sharpening; write heads: erase M, add M
        self.addressing_size = memory_width + 3 + 2 * shift_range + 1
        self.output_size = units + read_heads * memory_width
        controller_states = [units, units] if controller == "lstm" else []
        self.state_size = controller_states + [memory_size * memory_width, read_heads * memory_width,
                                               self.heads * memory_size]

    def build(self, input_shape):
        features = input_shape[-1] + self.read_heads * self.memory_width
        gates = 4 if self.controller == "lstm" else 1
        self.controller_kernel = self.add_weight((features, gates * self.units), "glorot_uniform",
                                                 name="controller_kernel")
        if self.controller == "lstm":
            self.recurrent_kernel = self.add_weight((self.units, 4 * self.units), "orthogonal",
                                                    name="recurrent_kernel")
        self.controller_bias = self.add_weight((gates * self.units,), "zeros", name="controller_bias")
        head_outputs = self.heads * self.addressing_size + self.write_heads * 2 * self.memory_width
        self.head_kernel = self.add_weight((self.units, head_outputs), "glorot_uniform", name="head_kernel")
        self.head_bias = self.add_weight(
            (head_outputs,), keras.initializers.Constant(self._keep_place_bias()) if self.keep_place else "zeros",
            name="head_bias")
        self.initial_reads = self.add_weight((self.read_heads * self.memory_width,), "random_normal",
                                             name="initial_reads")
        # Every head starts focused on row 0 (softmax ~0.99 there). From a uniform start location
        # addressing could never focus: shifting or sharpening a uniform weighting leaves it
        # uniform, and on the constant initial memory content addressing is uniform too.
        focus = np.zeros((self.heads, self.memory_size), np.float32)
        focus[:, 0] = 10.0
        self.initial_weighting_logits = self.add_weight(
            (self.heads * self.memory_size,), keras.initializers.Constant(focus.reshape(-1)),
            name="initial_weighting_logits")
        self.built = True

    def _keep_place_bias(self) -> np.ndarray:
        """The head layer's initial bias with `keep_place`: every head starts by keeping its place
        (interpolation gate sigmoid(-3) = 0.05 towards content, shift softmax 0.91 on offset 0),
        so a head moves or looks up content only where the controller learns to make it. From
        zero biases the shift spreads a head over many rows at once, and some copy runs learned
        to find the start again by content, which fails on sequences longer than the training
        ones; repeat copy, which must jump back to the start, learned from zero biases but not
        from these (docs/ntm.md)."""
        bias = np.zeros(self.heads * self.addressing_size + self.write_heads * 2 * self.memory_width, np.float32)
        for head in range(self.heads):
            at = head * self.addressing_size + self.memory_width  # after the key: strength, gate, shifts
            bias[at + 1] = -3.0
            bias[at + 2 + self.shift_range] = 3.0
        return bias

    def get_initial_state(self, batch_size=None):
        """Zero controller, constant memory, the learned read vectors and weightings."""
        dtype = self.compute_dtype
        controller = [tf.zeros((batch_size, self.units), dtype)] * (2 if self.controller == "lstm" else 0)
        memory = tf.fill((batch_size, self.memory_size * self.memory_width), tf.constant(1e-6, dtype))
        reads = tf.tanh(tf.cast(self.initial_reads, dtype))
        logits = tf.reshape(tf.cast(self.initial_weighting_logits, dtype), (self.heads, self.memory_size))
        weights = tf.reshape(tf.nn.softmax(logits, axis=-1), (-1,))
        return controller + [memory] + [tf.tile(v[None, :], (batch_size, 1)) for v in (reads, weights)]

    def call(self, inputs, states, training=False):
        n, m = self.memory_size, self.memory_width
        *controller_state, memory, reads, weights = states
        batch = tf.shape(inputs)[0]
        h, controller_state = self._controller(tf.concat([inputs, reads], -1), controller_state)
        memory = tf.reshape(memory, (batch, n, m))
        weights = tf.reshape(weights, (batch, self.heads, n))

        params = tf.matmul(h, tf.cast(self.head_kernel, h.dtype)) + tf.cast(self.head_bias, h.dtype)
        addressing = tf.reshape(params[:, : self.heads * self.addressing_size],
                                (batch, self.heads, self.addressing_size))
        weights = self._address(memory, addressing, weights)
        read_weights, write_weights = weights[:, : self.read_heads], weights[:, self.read_heads:]

        erase_add = tf.reshape(params[:, self.heads * self.addressing_size:], (batch, self.write_heads, 2 * m))
        memory = write(memory, write_weights, tf.sigmoid(erase_add[..., :m]), tf.tanh(erase_add[..., m:]))
        reads = tf.reshape(read(memory, read_weights), (batch, self.read_heads * m))

        new_states = controller_state + [tf.reshape(memory, (batch, n * m)), reads,
                                         tf.reshape(weights, (batch, self.heads * n))]
        return tf.concat([h, reads], -1), new_states

    def _controller(self, x, state):
        z = tf.matmul(x, tf.cast(self.controller_kernel, x.dtype)) + tf.cast(self.controller_bias, x.dtype)
        if self.controller == "lstm":  # the same step arithmetic as the RNN models' LSTMs
            h, c = cell_step("lstm", z, tuple(state), tf.cast(self.recurrent_kernel, x.dtype), None)
            state = [h, c]
        else:
            h = tf.tanh(z)
        return tf.clip_by_value(h, -self.controller_clip, self.controller_clip), state

    def _address(self, memory, params, previous):
        """params [batch, heads, addressing_size] -> the heads' new weightings [batch, heads, N]."""
        m, span = self.memory_width, 2 * self.shift_range + 1
        key = tf.tanh(params[..., :m])
        strength = tf.nn.softplus(params[..., m: m + 1])
        gate = tf.sigmoid(params[..., m + 1: m + 2])
        shifts = tf.nn.softmax(params[..., m + 2: m + 2 + span], axis=-1)
        gamma = 1.0 + tf.nn.softplus(params[..., m + 2 + span:])
        gated = interpolate(content_weights(memory, key, strength), previous, gate)
        return sharpen(shift(gated, shifts), gamma)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, controller=self.controller, memory_size=self.memory_size,
                      memory_width=self.memory_width, read_heads=self.read_heads,
                      write_heads=self.write_heads, shift_range=self.shift_range,
                      controller_clip=self.controller_clip, keep_place=self.keep_place)
        return config
