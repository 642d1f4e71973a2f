"""The reference decoder's recurrence with its backward pass written out: one LSTM layer, Luong
dot or general attention, input feeding (Luong, Pham and Manning 2015, sections 3.1 and 3.3).

Differentiating the step-by-step `tf.while_loop` automatically makes each step of the backward
loop also compute its share of every weight's gradient (products whose inner size is the batch)
and add it to a running sum. Here the backward loop carries only what flows back in time (the
gradients of h, c and the fed-back attentional output), and keeps each step's gate, attention
and combination gradients; each weight's gradient is then one large product over all steps,
which a CPU computes several times faster per FLOP, and each step runs fewer ops. The input
feeding and recurrent products are one product of [o_{t-1}; h_{t-1}]. Under mixed precision
the products run in bfloat16 and the rest in float32 (`elementwise_dtype`). The arithmetic is
`RecurrentDecoder._step`'s (tests compare outputs and gradients with it, and the gradients
with finite differences).
"""

from __future__ import annotations

import tensorflow as tf

from nmtkit.models.arithmetic import elementwise_dtype
from nmtkit.models.attention import MASK_VALUE


def luong_lstm_loop(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel,
                    keep=None):
    """The attentional outputs o_1..o_T [T, batch, units] of the decoder's recurrence.

    gates_x [T, batch, 4 units]: the embeddings' share of the LSTM's gates, bias included.
    h0, c0: the LSTM's initial state, o0 the initial fed-back output, each [batch, units].
    values [batch, src_len, memory_dim], keys [batch, src_len, units]: the attention memory
    (keys = values for dot attention, values W_a for general); mask [batch, src_len], bool.
    fed_kernel, recurrent_kernel [units, 4 units], combine_kernel [memory_dim + units, units].
    keep [T, batch, units]: dropout's scale on o_t (0 or 1 / (1 - rate)); None: no dropout.
    """
    if keep is None:
        return _loop(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel)
    return _loop_with_dropout(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel,
                              combine_kernel, keep)


@tf.custom_gradient
def _loop(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel):
    outputs, backward = _forward(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel,
                                 combine_kernel, None)
    return outputs, lambda d_outputs: backward(d_outputs)[:-1]


@tf.custom_gradient
def _loop_with_dropout(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel, keep):
    return _forward(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel, keep)


def _forward(gates_x, h0, c0, o0, values, keys, mask, fed_kernel, recurrent_kernel, combine_kernel, keep):
    """The forward loop; returns the outputs and the function that maps their gradient to the
    inputs' (None for the mask and the dropout scale). Products run in the inputs' dtype, the
    rest in `elementwise_dtype`'s; each step keeps its products' inputs for the weights'
    gradients. Inside, states are feature-major ([units, batch]): each step's products are then
    [4 units, 2 units] x [2 units, batch], which oneDNN runs at twice the speed of
    [batch, 2 units] x [2 units, 4 units] in AVX2 float32 (and 10-20% faster in bfloat16)."""
    dtype = gates_x.dtype
    wide = elementwise_dtype(dtype)
    kernel = tf.concat([fed_kernel, recurrent_kernel], 0)  # rows: o_{t-1}, then h_{t-1}
    kernel_t, combine_kernel_t = tf.transpose(kernel), tf.transpose(combine_kernel)
    memory_dim = values.shape[-1]
    length = tf.shape(gates_x)[0]
    gates_wide = tf.transpose(tf.cast(gates_x, wide), [0, 2, 1])  # [T, 4 units, batch]
    values_wide = tf.cast(values, wide)
    keys_t = tf.transpose(tf.cast(keys, wide), [0, 2, 1])  # once, not a transposing product per step
    keep = tf.transpose(tf.cast(keep, wide), [0, 2, 1]) if keep is not None else None
    scores_mask = mask[:, None, :]

    def step(t, h, c, o, arrays):
        fed = tf.cast(tf.concat([o, h], 0), dtype)
        z = gates_wide[t] + tf.cast(tf.matmul(kernel_t, fed), wide)
        i, f, g, out_gate = tf.split(z, 4, axis=0)  # Keras' gate order
        i, f, g, out_gate = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(out_gate)
        c = f * c + i * g
        h = out_gate * tf.tanh(c)
        h_rows = tf.transpose(h)  # attention's products are per sentence
        scores = tf.matmul(h_rows[:, None, :], keys_t)  # [batch, 1, src_len]
        weights = tf.nn.softmax(tf.where(scores_mask, scores, tf.cast(MASK_VALUE, wide)), axis=-1)
        context = tf.transpose(tf.matmul(weights, values_wide)[:, 0])
        combined = tf.cast(tf.concat([context, h], 0), dtype)
        attentional = tf.tanh(tf.cast(tf.matmul(combine_kernel_t, combined), wide))
        o = attentional * keep[t] if keep is not None else attentional
        saved = (fed, tf.concat([i, f, g, out_gate], 0), c, h_rows, weights[:, 0], combined, attentional, o)
        return t + 1, h, c, o, tuple(a.write(t, x) for a, x in zip(arrays, saved))

    arrays = tuple(tf.TensorArray(x, size=length) for x in [dtype] + [wide] * 4 + [dtype] + [wide] * 2)
    start = [tf.transpose(tf.cast(x, wide)) for x in (h0, c0, o0)]
    *_, arrays = tf.while_loop(lambda t, *_: t < length, step, (tf.constant(0), *start, arrays))
    feds, gates, cs, hs, weights, combineds, attentionals, outputs = (a.stack() for a in arrays)
    cs_before = tf.concat([start[1][None], cs[:-1]], 0)

    def backward(d_outputs):
        d_outputs = tf.transpose(tf.cast(d_outputs, wide), [0, 2, 1])
        values_t = tf.transpose(values_wide, [0, 2, 1])
        keys_wide = tf.cast(keys, wide)

        def step(t, dz_next, dc_next, arrays):
            d_fed, dh_next = tf.split(tf.cast(tf.matmul(kernel, dz_next), wide), 2, axis=0)
            d_attentional = d_outputs[t] + d_fed
            if keep is not None:
                d_attentional = d_attentional * keep[t]
            attentional = attentionals[t]
            d_combined = tf.cast(d_attentional * (1 - attentional * attentional), dtype)
            d_context, dh_combined = tf.split(tf.cast(tf.matmul(combine_kernel, d_combined), wide),
                                              [memory_dim, -1], axis=0)
            d_context = tf.transpose(d_context)
            w = weights[t]
            dw = tf.matmul(d_context[:, None, :], values_t)[:, 0]
            d_scores = w * (dw - tf.reduce_sum(dw * w, -1, keepdims=True))
            dh = dh_next + dh_combined + tf.transpose(tf.matmul(d_scores[:, None, :], keys_wide)[:, 0])
            i, f, g, out_gate = tf.split(gates[t], 4, axis=0)
            tanh_c = tf.tanh(cs[t])
            dc = dc_next + dh * out_gate * (1 - tanh_c * tanh_c)
            dz = tf.cast(tf.concat([dc * g * i * (1 - i), dc * cs_before[t] * f * (1 - f), dc * i * (1 - g * g),
                                    dh * tanh_c * out_gate * (1 - out_gate)], 0), dtype)
            saved = (dz, d_combined, d_scores, d_context)
            return t - 1, dz, dc * f, tuple(a.write(t, x) for a, x in zip(arrays, saved))

        arrays = tuple(tf.TensorArray(x, size=length) for x in (dtype, dtype, wide, wide))
        dz_last = tf.zeros(tf.shape(gates_wide)[1:], dtype)
        _, dz0, dc0, arrays = tf.while_loop(lambda t, *_: t >= 0, step,
                                            (length - 1, dz_last, tf.zeros_like(start[1]), arrays))
        dz, d_combined, d_scores, d_context = (a.stack() for a in arrays)
        do0, dh0 = tf.split(tf.transpose(tf.matmul(kernel, dz0)), 2, axis=-1)

        def over_steps(a, b):  # sum over steps and batch of a b^T: [T, m, batch] x [T, n, batch] -> [m, n]
            def rows(x):
                return tf.reshape(tf.transpose(x, [1, 0, 2]), [x.shape[1], -1])
            return tf.matmul(rows(a), rows(b), transpose_b=True)

        d_fed_kernel, d_recurrent_kernel = tf.split(over_steps(feds, dz), 2, axis=0)
        d_combine_kernel = over_steps(combineds, d_combined)
        batch_major = [1, 0, 2]  # [T, batch, n] -> [batch, T, n]
        d_values = tf.matmul(tf.transpose(weights, batch_major), tf.transpose(d_context, batch_major),
                             transpose_a=True)
        d_keys = tf.matmul(tf.transpose(d_scores, batch_major), tf.transpose(hs, batch_major), transpose_a=True)
        return (tf.transpose(dz, [0, 2, 1]), dh0, tf.cast(tf.transpose(dc0), dtype), do0, tf.cast(d_values, dtype),
                tf.cast(d_keys, dtype), None, d_fed_kernel, d_recurrent_kernel, d_combine_kernel, None)

    return tf.cast(tf.transpose(outputs, [0, 2, 1]), dtype), backward
