"""The training loss: label-smoothed cross-entropy over the target tokens that are not padding."""

from __future__ import annotations

import tensorflow as tf

from nmtkit.data.vocab import PAD


def token_losses(logits, targets, smoothing: float):
    """Summed label-smoothed cross-entropy over non-pad targets, and their count.

    Label smoothing (Szegedy et al. 2016, section 7) mixes the one-hot target with a uniform
    distribution over every token but padding, with weight `smoothing`.
    """
    per_token = smoothed_cross_entropy(tf.cast(logits, tf.float32), targets, smoothing)
    mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
    return tf.reduce_sum(per_token * mask), tf.reduce_sum(mask)


def smoothed_cross_entropy(logits, targets, smoothing: float):
    """Per-token label-smoothed cross-entropy [batch, length] with its gradient written out.

    The loss keeps only the logits for its backward pass, which writes one dense [batch,
    length, vocab] tensor: softmax - smoothing / (vocab - 1) off padding, less (1 - smoothing)
    at each target. TensorFlow's own gradients of a gather from log_softmax, or of a fused
    cross-entropy with dense smoothed targets, write and keep several such tensors (a tenth of
    a reference training step and of its peak memory).
    """
    vocab = tf.shape(logits)[-1]
    spread = smoothing / tf.cast(vocab - 1, tf.float32)  # the target share of every token but padding
    not_pad = 1.0 - tf.one_hot(PAD, vocab)

    @tf.custom_gradient
    def loss(logits):
        lse = tf.reduce_logsumexp(logits, -1)
        per_token = lse - tf.gather(logits, targets, batch_dims=2)
        if smoothing:  # -mean over v != PAD of log p_v = lse - mean over v != PAD of logits_v
            others = (tf.reduce_sum(logits, -1) - logits[..., PAD]) / tf.cast(vocab - 1, tf.float32)
            per_token = (1.0 - smoothing) * per_token + smoothing * (lse - others)

        def backward(d):
            d_logits = (tf.exp(logits - lse[..., None]) - spread * not_pad) * d[..., None]
            at_targets = tf.where(tf.ones_like(targets, tf.bool))  # [batch x length, 2]
            at_targets = tf.concat([at_targets, tf.cast(tf.reshape(targets, [-1, 1]), tf.int64)], -1)
            return tf.tensor_scatter_nd_sub(d_logits, at_targets, (1.0 - smoothing) * tf.reshape(d, [-1]))

        return per_token, backward

    return loss(logits)
