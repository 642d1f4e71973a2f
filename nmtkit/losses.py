"""The training loss: label-smoothed cross-entropy over the target tokens that are not padding."""

from __future__ import annotations

import tensorflow as tf

from nmtkit.data.vocab import PAD


def token_losses(logits, targets, smoothing: float):
    """Summed label-smoothed cross-entropy over non-pad targets, and their count.

    Label smoothing (Szegedy et al. 2016, section 7) mixes the one-hot target with a uniform
    distribution over every token but padding, with weight `smoothing`.
    """
    logits = tf.cast(logits, tf.float32)
    # Fused ops that compute the gradient (softmax minus the target distribution) with the loss:
    # a gather from log_softmax, or a separate smoothing term, makes the backward pass write
    # several more dense [batch, length, vocab] tensors (a tenth of a reference training step).
    if smoothing:
        vocab = tf.shape(logits)[-1]
        spread = smoothing / tf.cast(vocab - 1, tf.float32)  # every token but padding
        target = tf.one_hot(targets, vocab, on_value=1.0 - smoothing + spread, off_value=spread)
        per_token = tf.nn.softmax_cross_entropy_with_logits(target * (1.0 - tf.one_hot(PAD, vocab)), logits)
    else:
        per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
    mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
    return tf.reduce_sum(per_token * mask), tf.reduce_sum(mask)
