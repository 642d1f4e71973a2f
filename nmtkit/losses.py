"""The training loss: label-smoothed cross-entropy over the target tokens that are not padding."""

from __future__ import annotations

import tensorflow as tf

from nmtkit.data.vocab import PAD


def token_losses(logits, targets, smoothing: float):
    """Summed label-smoothed cross-entropy over non-pad targets, and their count.

    Label smoothing (Szegedy et al. 2016, section 7) mixes the one-hot target with a uniform
    distribution over every token but padding, with weight `smoothing`.
    """
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    nll = -tf.gather(log_probs, targets, batch_dims=2)
    vocab = tf.cast(tf.shape(log_probs)[-1], tf.float32)
    uniform = -(tf.reduce_sum(log_probs, -1) - log_probs[..., PAD]) / (vocab - 1)
    per_token = (1.0 - smoothing) * nll + smoothing * uniform
    mask = tf.cast(tf.not_equal(targets, PAD), tf.float32)
    return tf.reduce_sum(per_token * mask), tf.reduce_sum(mask)
