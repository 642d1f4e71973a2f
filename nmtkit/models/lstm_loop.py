"""A masked LSTM over both directions at once, with its backward pass written out: the CPU path
of the bidirectional LSTM encoder (a GPU runs Keras' layer, which picks cuDNN).

Keras' LSTM computes each step's input product inside its loop and leaves the backward pass to
TensorFlow, whose loop then also computes each weight's share per step (see
nmtkit.models.luong_loop). Here the input products of every step and both directions are one
product before the loop; the two directions run in the same loop as a batch of two (the
backward one on the time-reversed sequence), so every op serves both; and the recurrent
kernel's gradient is one product over all steps after the backward loop. Under mixed precision
the products run in bfloat16 and the rest in float32. Padded steps (mask false) leave the
state unchanged and output zeros, as Keras' bidirectional layer does.
"""

from __future__ import annotations

import tensorflow as tf

from nmtkit.models.arithmetic import dense, elementwise_dtype


def masked_lstm_loop(gates_x, mask, recurrent_kernel, differentiable=True):
    """The outputs [T, D, batch, units] and final states h, c [D, batch, units] of D LSTMs run
    from zero states.

    gates_x [T, D, batch, 4 units]: each step's input product plus bias (Keras' gate order i, f,
    g, o); mask [T, D, batch, 1]: 1.0 where a step is a token, 0.0 on padding;
    recurrent_kernel [D, units, 4 units]. Products run in the gates' dtype, the rest in
    `elementwise_dtype`'s. Inside, states are feature-major ([D, units, batch]), as in
    nmtkit.models.luong_loop and for the same reason. differentiable=False (inference) keeps
    nothing for a backward pass and has no gradient.
    """
    if differentiable:
        return _differentiable_loop(gates_x, mask, recurrent_kernel)
    return _forward(gates_x, mask, recurrent_kernel, keep=False)[0]


@tf.custom_gradient
def _differentiable_loop(gates_x, mask, recurrent_kernel):
    return _forward(gates_x, mask, recurrent_kernel, keep=True)


def _forward(gates_x, mask, recurrent_kernel, keep):
    """The loop's outputs and, if `keep`, the function that maps their gradients to the inputs'
    (None for the mask); without `keep`, None in its place."""
    dtype = gates_x.dtype
    wide = elementwise_dtype(dtype)
    length = tf.shape(gates_x)[0]
    feature_major = [0, 1, 3, 2]  # [T, D, batch, n] <-> [T, D, n, batch]
    # Kept in the products' dtype and widened a step at a time: a wide copy of every step's
    # gates added 34 MiB to the tensor peak of a test-set translation (batch 128).
    gates_t = tf.transpose(gates_x, feature_major)
    mask = tf.transpose(tf.cast(mask, wide), feature_major)
    kernel_t = tf.transpose(recurrent_kernel, [0, 2, 1])
    directions, units = recurrent_kernel.shape[:2]
    zeros = tf.zeros([directions, units, tf.shape(gates_x)[2]], wide)  # [D, units, batch]

    def step(t, h, c, arrays):
        h_before = tf.cast(h, dtype)
        z = tf.cast(gates_t[t], wide) + tf.cast(tf.matmul(kernel_t, h_before), wide)
        i, f, g, o = tf.split(z, 4, axis=1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        m = mask[t]
        new_c = f * c + i * g
        output = o * tf.tanh(new_c) * m
        saved = (output, tf.concat([i, f, g, o], 1), new_c, h_before, c) if keep else (output,)  # h, c as before
        h = output + (1 - m) * h
        c = new_c * m + (1 - m) * c
        return t + 1, h, c, tuple(a.write(t, x) for a, x in zip(arrays, saved))

    arrays = tuple(tf.TensorArray(x, size=length) for x in ((wide, wide, wide, dtype, wide) if keep else (wide,)))
    _, h, c, arrays = tf.while_loop(lambda t, *_: t < length, step, (tf.constant(0), zeros, zeros, arrays))
    batch_major = [0, 2, 1]
    results = tuple(tf.cast(x, dtype) for x in (tf.transpose(arrays[0].stack(), feature_major),
                                                tf.transpose(h, batch_major), tf.transpose(c, batch_major)))
    if not keep:
        return results, None
    _, gates, new_cs, hs_before, cs_before = (a.stack() for a in arrays)

    def backward(d_outputs, d_h, d_c):
        d_outputs = tf.transpose(tf.cast(d_outputs, wide), feature_major)

        def step(t, dh, dc, dzs):
            m = mask[t]
            i, f, g, o = tf.split(gates[t], 4, axis=1)
            tanh_c = tf.tanh(new_cs[t])
            dh_new = (d_outputs[t] + dh) * m
            dc_new = dc * m + dh_new * o * (1 - tanh_c * tanh_c)
            dz = tf.cast(tf.concat([dc_new * g * i * (1 - i), dc_new * cs_before[t] * f * (1 - f),
                                    dc_new * i * (1 - g * g), dh_new * tanh_c * o * (1 - o)], 1), dtype)
            dh = tf.cast(tf.matmul(recurrent_kernel, dz), wide) + (1 - m) * dh
            dc = dc_new * f + (1 - m) * dc
            return t - 1, dh, dc, dzs.write(t, dz)

        dzs = tf.TensorArray(dtype, size=length)
        d_h, d_c = (tf.transpose(tf.cast(x, wide), [0, 2, 1]) for x in (d_h, d_c))
        *_, dzs = tf.while_loop(lambda t, *_: t >= 0, step, (length - 1, d_h, d_c, dzs))
        dz = dzs.stack()
        directions = tf.shape(dz)[1]

        def rows(x):  # [T, D, n, batch] -> [D, n, T x batch]
            return tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [directions, x.shape[2], -1])

        d_kernel = tf.matmul(rows(hs_before), rows(dz), transpose_b=True)
        return tf.transpose(dz, feature_major), None, d_kernel

    return results, backward


def bidirectional_lstm(layer, x, mask, training=True):
    """A Keras `Bidirectional(LSTM)` layer's outputs [batch, T, 2 units] (forward, then backward
    units) and final states (h, c of the forward direction, then of the backward one), computed
    by `masked_lstm_loop` from the layer's own weights. x [batch, T, n]; mask [batch, T] bool.
    training=False: forward only (no gradient), as in translation."""
    if not layer.built:
        layer.build(x.shape)
    cells = [layer.forward_layer.cell, layer.backward_layer.cell]
    dtype = x.dtype
    kernel = tf.concat([tf.cast(cell.kernel, dtype) for cell in cells], -1)  # [n, 2 x 4 units]
    bias = tf.concat([tf.cast(cell.bias, dtype) for cell in cells], -1)
    gates = dense(tf.transpose(x, [1, 0, 2]), kernel) + bias  # every step of both directions: [T, batch, 8 units]
    forward, backward = tf.split(gates, 2, axis=-1)
    steps = tf.cast(tf.transpose(mask), dtype)[..., None]  # [T, batch, 1]
    gates_x = tf.stack([forward, tf.reverse(backward, [0])], 1)
    masks = tf.stack([steps, tf.reverse(steps, [0])], 1)
    recurrent = tf.stack([tf.cast(cell.recurrent_kernel, dtype) for cell in cells])
    outputs, h, c = masked_lstm_loop(gates_x, masks, recurrent, differentiable=training)
    forward, backward = tf.unstack(outputs, axis=1)
    outputs = tf.concat([forward, tf.reverse(backward, [0])], -1)
    (h_forward, h_backward), (c_forward, c_backward) = tf.unstack(h), tf.unstack(c)
    return tf.transpose(outputs, [1, 0, 2]), (h_forward, c_forward, h_backward, c_backward)
