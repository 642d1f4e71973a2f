"""Several trained models searched as one: their log-probabilities are averaged at every step."""

from __future__ import annotations

import tensorflow as tf


class Ensemble:
    """The search interface (`encode`, `step_function`) over models that share vocabularies.

    The step averages the members' log-probabilities (renormalised by the search's softmax, so
    it is the normalised geometric mean of their distributions) and their attention weights.
    States and memories are tuples with one entry per member.
    """

    def __init__(self, models):
        self.models = list(models)

    def encode(self, src):
        encoded = [model.encode(src) for model in self.models]
        states, memories, masks = zip(*encoded)
        return tuple(states), tuple(memories), masks[0]

    def step_function(self, fixed_weights: bool = False):
        steps = [model.step_function(fixed_weights) for model in self.models]

        def step(token, state, memory, mask):
            outputs = [s(token, st, mem, mask) for s, st, mem in zip(steps, state, memory)]
            log_probs = [tf.nn.log_softmax(tf.cast(logits, tf.float32)) for logits, _, _ in outputs]
            attention = [tf.cast(weights, tf.float32) for _, _, weights in outputs]
            return (tf.add_n(log_probs) / len(steps), tuple(s for _, s, _ in outputs),
                    tf.add_n(attention) / len(steps))

        return step
