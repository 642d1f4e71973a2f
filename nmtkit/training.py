"""`nmtkit train`: teacher-forced training with validation and best-model keeping."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nmtkit import __version__
from nmtkit.artifacts import ModelWriter
from nmtkit.config import Recipe, TrainConfig
from nmtkit.data.batching import Batch, batches, count_batches
from nmtkit.data.prepared import load_split, load_vocabs, read_manifest
from nmtkit.data.vocab import PAD
from nmtkit.models.seq2seq import build_model
from nmtkit.progress import TrainingProgress

_BATCH_SIGNATURE = [tf.TensorSpec([None, None], tf.int32)] * 3


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


class Trainer:
    """Compiled train and validation steps for one model and optimizer."""

    def __init__(self, model: keras.Model, config: TrainConfig):
        self.model = model
        self.smoothing = config.label_smoothing
        self.optimizer = keras.optimizers.Adam(
            config.learning_rate, beta_1=0.9, beta_2=0.999,
            global_clipnorm=config.clip_norm or None,
        )
        self.optimizer.build(model.trainable_variables)
        self.train_step = tf.function(self._train_step, input_signature=_BATCH_SIGNATURE)
        self.eval_step = tf.function(self._eval_step, input_signature=_BATCH_SIGNATURE)

    def _train_step(self, src, tgt_in, tgt_out):
        with tf.GradientTape() as tape:
            logits = self.model((src, tgt_in), training=True)
            loss_sum, tokens = token_losses(logits, tgt_out, self.smoothing)
            loss = loss_sum / tokens
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss_sum, tokens

    def _eval_step(self, src, tgt_in, tgt_out):
        logits = self.model((src, tgt_in), training=False)
        nll_sum, tokens = token_losses(logits, tgt_out, 0.0)
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tgt_out)
        mask = tf.not_equal(tgt_out, PAD)
        return nll_sum, tokens, tf.reduce_sum(tf.cast(hits & mask, tf.float32))

    def validate(self, valid_batches: list[Batch]) -> dict[str, float]:
        nll = tokens = hits = 0.0
        for batch in valid_batches:
            b_nll, b_tokens, b_hits = self.eval_step(*batch)
            nll, tokens, hits = nll + float(b_nll), tokens + float(b_tokens), hits + float(b_hits)
        loss = nll / tokens
        return {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0)),
                "valid_acc": 100.0 * hits / tokens}


@dataclass
class _Clock:
    """Wall-clock budget of the whole command, measured from `started_at`."""

    started_at: float
    budget_s: float  # 0 = none
    reserve_s: float = 0.0  # time kept back for the final validation and save

    def out_of_time(self) -> bool:
        return bool(self.budget_s) and time.monotonic() + self.reserve_s >= self.started_at + self.budget_s


@dataclass
class _Totals:
    steps: int = 0
    target_tokens: int = 0
    train_seconds: float = 0.0
    metrics: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None

    @property
    def tokens_per_second(self) -> float:
        return self.target_tokens / self.train_seconds if self.train_seconds else 0.0


def describe_model(recipe: Recipe) -> dict[str, int]:
    """Parameters per component of the recipe's model, built for its prepared vocabularies."""
    prepared = Path(recipe.data.prepared)
    read_manifest(prepared, "prepared data directory (run `nmtkit preprocess`)")
    src_vocab, tgt_vocab = load_vocabs(prepared)
    model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), recipe.train.precision)
    return {**model.parameters_by_part(), "total": model.count_params()}


def train(recipe: Recipe, overwrite: bool = False, started_at: float | None = None) -> dict[str, Any]:
    """Train the recipe's model on its prepared data; returns the model directory's manifest."""
    config = recipe.train
    prepared = Path(recipe.data.prepared)
    data_manifest = read_manifest(prepared, "prepared data directory (run `nmtkit preprocess`)")
    src_vocab, tgt_vocab = load_vocabs(prepared)
    train_split = load_split(prepared / "train.npz")
    valid = load_split(prepared / "valid.npz")
    valid_batches = list(batches(valid.src, valid.tgt, config.batch_size))

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), config.precision)
    trainer = Trainer(model, config)
    clock = _Clock(started_at or time.monotonic(), config.max_minutes * 60)
    totals = _Totals()
    steps_per_epoch = count_batches(len(train_split.src), config.batch_size)

    def manifest(stopped_by: str | None = None) -> dict[str, Any]:
        return {
            "nmtkit_version": __version__,
            "parameters": model.count_params(),
            "data": data_manifest,
            "training": {
                "steps": totals.steps,
                "epochs": round(totals.steps / steps_per_epoch, 3),
                "target_tokens": totals.target_tokens,
                "train_seconds": round(totals.train_seconds, 1),
                "train_tokens_per_s": round(totals.tokens_per_second, 1),
                "stopped_by": stopped_by,
                "best": totals.best,
            },
        }

    with ModelWriter(config.model_dir, overwrite) as writer, \
            TrainingProgress(steps_per_epoch * config.epochs) as progress:
        writer.write_static(recipe, prepared)

        def checkpoint() -> None:
            began = time.monotonic()
            metrics = {"step": totals.steps, "epoch": round(totals.steps / steps_per_epoch, 3),
                       **trainer.validate(valid_batches),
                       "train_tokens_per_s": round(totals.tokens_per_second, 1)}
            totals.metrics.append(metrics)
            improved = totals.best is None or metrics["valid_loss"] < totals.best["valid_loss"]
            if improved:
                totals.best = metrics
            writer.save(manifest(), totals.metrics, model if improved else None)
            if config.keep_checkpoints:
                writer.save_checkpoint(model, totals.steps, config.keep_checkpoints)
            progress.log(
                f"step {metrics['step']} epoch {metrics['epoch']:.2f}: "
                f"valid loss {metrics['valid_loss']:.3f} ppl {metrics['valid_ppl']:.2f} "
                f"acc {metrics['valid_acc']:.1f}%  train {totals.tokens_per_second:,.0f} tok/s"
                + ("  (best, saved)" if improved else "")
            )
            clock.reserve_s = time.monotonic() - began

        stopped_by = "epochs"
        for _ in range(config.epochs):
            for batch in batches(train_split.src, train_split.tgt, config.batch_size, rng):
                if clock.out_of_time():
                    stopped_by = "time budget"
                    break
                began = time.monotonic()
                loss_sum, tokens = trainer.train_step(*batch)
                totals.train_seconds += time.monotonic() - began
                totals.steps += 1
                totals.target_tokens += int(tokens)
                progress.update(totals.steps, float(loss_sum) / float(tokens),
                                totals.tokens_per_second)
                if config.valid_every and totals.steps % config.valid_every == 0:
                    checkpoint()
            if stopped_by != "epochs":
                break
            if not config.valid_every or totals.steps % config.valid_every:
                checkpoint()
        if not totals.metrics or totals.metrics[-1]["step"] != totals.steps:
            checkpoint()
        final = manifest(stopped_by)
        writer.save(final, totals.metrics)
    return final
