"""The recurrent cells: Keras layers for whole sequences, the same arithmetic for one step.

Whole sequences run through Keras' own LSTM, GRU and SimpleRNN layers, built with the settings
that let TensorFlow pick the cuDNN kernels on a GPU (`CUDNN_SETTINGS`; SimpleRNN has none).
Step-wise decoding (input feeding, Bahdanau attention, search) reuses those layers' weights in
`cell_step`, which repeats Keras' arithmetic (in float32 exactly; a test checks the two agree).
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from nmtkit.models.arithmetic import elementwise_dtype

LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # blocks of `units` in each kernel
# What TensorFlow requires before it runs an LSTM or GRU layer with cuDNN.
CUDNN_SETTINGS = {"activation": "tanh", "recurrent_activation": "sigmoid", "recurrent_dropout": 0,
                  "unroll": False, "use_bias": True}


@functools.cache
def cudnn_available() -> bool:
    """Whether Keras' LSTM and GRU layers run on cuDNN here (a GPU is visible)."""
    return bool(tf.config.list_physical_devices("GPU"))


def state_size(cell: str) -> int:
    """How many tensors make up the cell's state: (h, c) for an LSTM, (h,) otherwise."""
    return 2 if cell == "lstm" else 1


def rnn_layer(cell: str, units: int, initializer, dtype, name: str) -> keras.layers.Layer:
    """A whole-sequence layer returning its outputs and final state."""
    options = dict(CUDNN_SETTINGS) if cell != "rnn" else {"activation": "tanh"}
    if cell == "lstm":
        options["unit_forget_bias"] = False  # the bias starts like every other weight
    if cell == "gru":
        options["reset_after"] = True  # cuDNN's GRU variant
    return LAYERS[cell](
        units, return_sequences=True, return_state=True, kernel_initializer=initializer,
        recurrent_initializer=initializer, bias_initializer=initializer, dtype=dtype, name=name,
        **options,
    )


def input_bias(cell: str, bias):
    """The part of a layer's bias that goes with the input product (GRU keeps two biases)."""
    return bias[0] if cell == "gru" else bias


def cell_step(cell: str, gates_x, state: tuple, recurrent_kernel, bias) -> tuple:
    """One step of `cell` given the input product `gates_x` = x W + input bias, [batch, G x units].

    Returns the new state tuple; its first element is the output h. Gates and state updates
    run in `elementwise_dtype` (float32 under mixed precision, as in the hand-written loops: a
    search step's LSTM took 0.63 ms in bfloat16 at 320 rows, 0.37 ms so); the state stays in
    the products' dtype.
    """
    h = state[0]
    dtype = h.dtype
    wide = elementwise_dtype(dtype)

    def widen(x):
        return tf.cast(x, wide)

    if cell == "lstm":
        z = widen(gates_x) + widen(tf.matmul(h, recurrent_kernel))
        i, f, g, o = tf.split(z, 4, axis=-1)  # Keras' gate order
        c = tf.sigmoid(f) * widen(state[1]) + tf.sigmoid(i) * tf.tanh(g)
        return tf.cast(tf.sigmoid(o) * tf.tanh(c), dtype), tf.cast(c, dtype)
    if cell == "gru":  # reset_after: the reset gate scales the recurrent product, bias included
        x_z, x_r, x_h = tf.split(widen(gates_x), 3, axis=-1)
        r_z, r_r, r_h = tf.split(widen(tf.matmul(h, recurrent_kernel)) + widen(bias[1]), 3, axis=-1)
        z = tf.sigmoid(x_z + r_z)
        candidate = tf.tanh(x_h + tf.sigmoid(x_r + r_r) * r_h)
        return (tf.cast(z * widen(h) + (1 - z) * candidate, dtype),)
    return (tf.cast(tf.tanh(widen(gates_x) + widen(tf.matmul(h, recurrent_kernel))), dtype),)
