"""The training loss: label-smoothed cross-entropy over the target tokens that are not padding."""

from __future__ import annotations

import tensorflow as tf

from nmtkit.data.vocab import PAD

# Most bytes of float32 logits the training loss holds at once (see `projected_token_losses`):
# about 1,000 rows of the reference model's 4,274 targets, the rows of an average batch of 64.
CHUNK_BYTES = 16 * 2**20


def token_losses(logits, targets, smoothing: float):
    """Summed label-smoothed cross-entropy of logits [..., vocab] over the non-pad targets [...],
    and their count.

    Label smoothing (Szegedy et al. 2016, section 7) mixes the one-hot target with a uniform
    distribution over every token but padding, with weight `smoothing`.
    """
    per_token, _ = _cross_entropy(tf.cast(logits, tf.float32), targets, smoothing)
    mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
    return tf.reduce_sum(per_token * mask), tf.reduce_sum(mask)


def projected_token_losses(features, kernel, bias, targets, smoothing: float):
    """`token_losses(features @ kernel + bias, targets, smoothing)` for training, where the
    output layer and the loss are one operation that holds no [batch, length, vocab] tensor.

    The loss is a sum, so its gradient is the upstream scalar times a gradient that does not
    depend on it: the forward pass computes that gradient for features, kernel and bias, in
    chunks of rows, each chunk's logits dropped once its share is known. Autodiff of the two
    layers keeps the float32 logits for the backward pass and writes several more such tensors
    in it (50 MiB each on the longest Multi30k batches). The arithmetic is the same: three
    products (logits, and their gradient for the features and the kernel) in the compute
    dtype, the softmax and its gradient in float32.
    """
    vocab = tf.shape(kernel)[-1]
    rows = tf.reshape(features, [-1, features.shape[-1]])
    flat_targets = tf.reshape(targets, [-1])
    count = tf.shape(rows)[0]
    chunks = tf.maximum(1, -(-count // tf.maximum(1, CHUNK_BYTES // (4 * vocab))))
    size = -(-count // chunks)  # rows per chunk, as even as can be
    spread = smoothing / tf.cast(vocab - 1, tf.float32)  # the target share of every token but padding
    not_pad = 1.0 - tf.one_hot(PAD, vocab)

    @tf.custom_gradient
    def loss(rows, kernel, bias):
        def body(i, total, d_rows, d_kernel, d_bias):
            start = i * size
            part, goal = rows[start:start + size], flat_targets[start:start + size]
            logits = tf.cast(tf.matmul(part, kernel) + bias, tf.float32)
            per_token, lse = _cross_entropy(logits, goal, smoothing)
            mask = tf.cast(tf.not_equal(goal, PAD), tf.float32)
            # d loss / d logits: softmax - spread off padding, less (1 - smoothing) at the target
            d_logits = (tf.exp(logits - lse[:, None]) - spread * not_pad) * mask[:, None]
            at_targets = tf.stack([tf.range(tf.shape(goal)[0]), goal], -1)
            d_logits = tf.tensor_scatter_nd_sub(d_logits, at_targets, (1.0 - smoothing) * mask)
            d_products = tf.cast(d_logits, part.dtype)
            return (i + 1, total + tf.reduce_sum(per_token * mask),
                    d_rows.write(i, tf.matmul(d_products, kernel, transpose_b=True)),
                    d_kernel + tf.cast(tf.matmul(part, d_products, transpose_a=True), tf.float32),
                    d_bias + tf.reduce_sum(d_logits, 0))

        start = (tf.constant(0), tf.constant(0.0), tf.TensorArray(rows.dtype, size=chunks, infer_shape=False),
                 tf.zeros(tf.shape(kernel)), tf.zeros(tf.shape(bias)))
        # one chunk at a time: chunks run side by side would hold their logits side by side
        _, total, d_rows, d_kernel, d_bias = tf.while_loop(lambda i, *_: i < chunks, body, start,
                                                           parallel_iterations=1)
        d_rows = d_rows.concat()

        def backward(upstream):
            return (tf.cast(upstream, rows.dtype) * d_rows, tf.cast(upstream * d_kernel, kernel.dtype),
                    tf.cast(upstream * d_bias, bias.dtype))

        return total, backward

    tokens = tf.reduce_sum(tf.cast(tf.not_equal(targets, PAD), tf.float32))
    return loss(rows, kernel, bias), tokens


def _cross_entropy(logits, targets, smoothing: float):
    """Per-token label-smoothed cross-entropy of float32 logits, and their log-sum-exp."""
    lse = tf.reduce_logsumexp(logits, -1)
    batch_dims = len(targets.shape)
    per_token = lse - tf.gather(logits, targets, batch_dims=batch_dims)
    if smoothing:  # -mean over v != PAD of log p_v = lse - mean over v != PAD of logits_v
        vocab = tf.cast(tf.shape(logits)[-1], tf.float32)
        others = (tf.reduce_sum(logits, -1) - logits[..., PAD]) / (vocab - 1.0)
        per_token = (1.0 - smoothing) * per_token + smoothing * (lse - others)
    return per_token, lse
