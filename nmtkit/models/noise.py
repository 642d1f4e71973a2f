"""Dropout whose random masks are part of the training state.

`tf.nn.dropout` draws from per-op random streams that restart with the process, so a run resumed
from a checkpoint would draw other masks than the run it continues. Here every mask comes from
one `tf.random.Generator`, whose state is a single variable that training checkpoints save and
restore: a resumed run draws exactly the masks the uninterrupted run would have.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class DropoutNoise:
    def __init__(self, seed: int = 0):
        self.generator = tf.random.Generator.from_seed(seed)

    def __call__(self, x, rate: float):
        """Inverted dropout: zero each element with probability `rate`, scale the rest up."""
        return x * self.scale(tf.shape(x), rate, x.dtype)

    def scale(self, shape, rate: float, dtype):
        """A dropout mask of `shape`: 0 with probability `rate`, else 1 / (1 - rate)."""
        keep = self.generator.uniform(shape) >= rate
        return tf.cast(keep, dtype) * tf.cast(1.0 / (1.0 - rate), dtype)

    def get_state(self) -> np.ndarray:
        return self.generator.state.numpy()

    def set_state(self, state: np.ndarray) -> None:
        self.generator.state.assign(state)
