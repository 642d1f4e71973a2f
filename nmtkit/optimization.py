"""Optimizers and learning-rate schedules from a recipe's train section.

The rate is set from Python before every step (`LearningRate.at(step)`): a pure function of the
step and of the plateau state, both part of the training checkpoint, so a resumed run follows
the same schedule. Gradient clipping, the review's remedy for exploding gradients, is the
optimizer's: by global norm (`clip_norm`) or element by element (`clip_value`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from nmtkit.config import TrainConfig


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    common = dict(learning_rate=config.learning_rate, global_clipnorm=config.clip_norm or None,
                  clipvalue=config.clip_value or None)
    decay = {"weight_decay": config.weight_decay} if config.weight_decay else {}
    if config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(beta_1=0.9, beta_2=0.999, **common, **decay)
    elif config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(beta_1=0.9, beta_2=0.999, weight_decay=config.weight_decay, **common)
    elif config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(momentum=config.momentum, **common, **decay)
    else:
        optimizer = keras.optimizers.RMSprop(momentum=config.momentum, **common, **decay)
    if config.precision == "mixed_float16":  # float16 gradients underflow without loss scaling
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@dataclass
class LearningRate:
    """The schedule: warm-up, then constant, exponential decay, decay on plateau, or inverse
    square root (Vaswani et al. 2017: the rate peaks at `learning_rate` after the warm-up)."""

    config: TrainConfig
    plateau_scale: float = 1.0  # decay_rate ** (plateaus so far)
    best: float | None = None  # plateau: the best validation metric so far (higher is better)
    bad_validations: int = 0

    def at(self, step: int) -> float:
        """The rate of update number `step` (counted from 0)."""
        c = self.config
        warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        if c.lr_schedule == "exponential":
            rate = c.learning_rate * c.decay_rate ** (step / c.decay_steps)
        elif c.lr_schedule == "inverse_sqrt":
            rate = c.learning_rate * min(1.0, math.sqrt(c.warmup_steps / (step + 1)))
        else:
            rate = c.learning_rate * self.plateau_scale
        return max(rate * warm, c.min_learning_rate)

    def observe(self, score: float) -> bool:
        """Take a validation score (higher is better); True when the plateau schedule decays."""
        if self.config.lr_schedule != "plateau":
            return False
        if self.best is None or score > self.best:
            self.best, self.bad_validations = score, 0
            return False
        self.bad_validations += 1
        if self.bad_validations < self.config.plateau_patience:
            return False
        self.plateau_scale *= self.config.decay_rate
        self.bad_validations = 0
        return True

    def state(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_validations": self.bad_validations}

    def restore(self, state: dict) -> None:
        self.plateau_scale, self.best = state["plateau_scale"], state["best"]
        self.bad_validations = state["bad_validations"]
