"""The training loss: label-smoothed cross-entropy over the target tokens that are not padding."""

from __future__ import annotations

import tensorflow as tf

from nmtkit.data.vocab import PAD

# Most bytes of float32 logits the training loss holds at once (see `projected_token_losses`):
# about 1,000 rows of the reference model's 4,274 targets, the rows of an average batch of 64.
CHUNK_BYTES = 16 * 2**20
# Below this a float32 probability has lost precision (subnormals start at 1.2e-38).
TINY_PROBABILITY = 1e-30


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
    dtype, the softmax and its gradient in float32. Each vocabulary-wide pass is one that the
    gradient needs (see `_chunk_loss`): padding rows are kept (leaving them out made the number of
    rows, and so the products' shapes, new on nearly every batch, and oneDNN keeps a kernel for
    each shape: 35 MiB more after 300 batches) but weigh nothing, through their features and
    their rows of the features' gradient.
    """
    vocab = tf.shape(kernel)[-1]
    rows = tf.reshape(features, [-1, features.shape[-1]])
    goals = tf.reshape(targets, [-1])
    count = tf.shape(rows)[0]
    chunks = tf.maximum(1, -(-count // tf.maximum(1, CHUNK_BYTES // (4 * vocab))))
    size = -(-count // chunks)  # rows per chunk, as even as can be

    @tf.custom_gradient
    def loss(rows, kernel, bias):
        # The mean logit over every token but padding (label smoothing's share) is linear in
        # the features: one product with the kernel's row means, not a pass over the logits.
        tokens_but_pad = tf.cast(vocab - 1, tf.float32)
        kernel_means = (tf.reduce_sum(tf.cast(kernel, tf.float32), -1)
                        - tf.cast(kernel[:, PAD], tf.float32)) / tokens_but_pad
        bias_mean = (tf.reduce_sum(tf.cast(bias, tf.float32)) - tf.cast(bias[PAD], tf.float32)) / tokens_but_pad

        def body(i, total, d_rows, d_kernel, d_bias):
            goal = goals[i * size:(i + 1) * size]
            weight = tf.cast(tf.not_equal(goal, PAD), tf.float32)
            row_weight = tf.cast(weight, rows.dtype)[:, None]
            part = rows[i * size:(i + 1) * size] * row_weight
            mean_logit = tf.linalg.matvec(tf.cast(part, tf.float32), kernel_means) + bias_mean
            per_token, d_logits = _chunk_loss(tf.cast(tf.matmul(part, kernel) + bias, tf.float32), goal, mean_logit,
                                              smoothing)
            d_products = tf.cast(d_logits, part.dtype)
            # the rows transposed first (1 MiB): oneDNN's product with a transposed first
            # operand ran at 300 GFLOP/s here, 350 so
            d_kernel_part = tf.matmul(tf.transpose(part), d_products)
            d_part = tf.matmul(d_products, kernel, transpose_b=True) * row_weight
            return (i + 1, total + tf.reduce_sum(per_token * weight), d_rows.write(i, d_part),
                    d_kernel + tf.cast(d_kernel_part, tf.float32),
                    d_bias + tf.linalg.matvec(d_logits, weight, transpose_a=True))

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


def _chunk_loss(logits, goal, mean_logit, smoothing: float):
    """The label-smoothed cross-entropy of each row of float32 logits [rows, vocab] for its
    target `goal`, given each row's mean logit over every token but padding (`mean_logit`), and its
    gradient with respect to the logits (rows whose target is padding: anything).

    The softmax is one fused pass; the log-sum-exp then comes from the target's probability
    (log p_t = logit_t - lse), and from a pass of its own only where some target's probability
    is too small for that (float32 underflow).
    """
    probabilities = tf.nn.softmax(logits)
    at_goal = tf.stack([tf.range(tf.shape(goal)[0]), goal], -1)
    logit_goal, p_goal = tf.gather_nd(logits, at_goal), tf.gather_nd(probabilities, at_goal)
    lse = tf.cond(tf.reduce_all((p_goal > TINY_PROBABILITY) | tf.equal(goal, PAD)),
                  lambda: logit_goal - tf.math.log(p_goal), lambda: tf.reduce_logsumexp(logits, -1))
    per_token = (1.0 - smoothing) * (lse - logit_goal) + smoothing * (lse - mean_logit)
    # d loss / d logits: softmax - spread off padding, less (1 - smoothing) at the target
    spread = smoothing / tf.cast(tf.shape(logits)[-1] - 1, tf.float32)
    d_logits = probabilities - spread * (1.0 - tf.one_hot(PAD, tf.shape(logits)[-1]))
    d_logits = tf.tensor_scatter_nd_sub(d_logits, at_goal, tf.fill(tf.shape(goal), 1.0 - smoothing))
    return per_token, d_logits


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
