"""Arithmetic choices made for speed on a CPU, shared by the models' hand-written loops."""

from __future__ import annotations

import tensorflow as tf


def dense(x, kernel):
    """x [..., n] @ kernel [n, m] -> [..., m], as one 2-D product over all rows.

    TensorFlow multiplies a 3-D x by a 2-D kernel as a batched product, whose gradient for the
    kernel is one product per batch row and a sum over them (a [batch, n, m] tensor in between):
    on the reference model's output layer that took 3x the time of the one 2-D product here.
    """
    rows = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel)
    return tf.reshape(rows, tf.concat([tf.shape(x)[:-1], tf.shape(kernel)[-1:]], 0))


def elementwise_dtype(dtype: tf.DType) -> tf.DType:
    """The dtype of a recurrence's gates, states and attention when its products are in `dtype`:
    float32 for bfloat16 or float16 products. TensorFlow's CPU kernels for sigmoid, tanh,
    softmax and concatenation are several times slower in bfloat16 than in float32 (a tanh on
    [64, 512] took 0.4 ms), while a cast either way is cheap; float32 is also the more precise."""
    return tf.float32 if dtype.size < 4 else dtype
