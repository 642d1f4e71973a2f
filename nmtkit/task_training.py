"""Training and evaluating models on the algorithmic tasks (nmtkit.data.algorithmic).

Costs are in bits per sequence, as Graves et al. report them: the binary cross-entropy of the
judged outputs in base 2, summed over a sequence. Bit errors count the judged output bits that
are wrong after rounding the predicted probabilities.

A model directory holds recipe.yaml, model.weights.h5, metrics.jsonl (one record per
`train.log_every` sequences) and manifest.json; it is written under a temporary name and renamed
when training ends (also on SIGINT or SIGTERM, with what was learned so far: task training keeps
no checkpoints to resume from, since a run takes minutes).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nmtkit.atomic import atomic_dir
from nmtkit.checksums import verify_checksums, write_checksums
from nmtkit.data.algorithmic import AlgorithmicTask, Batch
from nmtkit.config import read_yaml_file
from nmtkit.errors import ModelDirError, RecipeError, TrainingDiverged, one_line
from nmtkit.interrupts import signal_name, stop_requests
from nmtkit.run_lock import training_lock
from nmtkit.models.memory_task import build_task_model
from nmtkit.task_config import TaskRecipe, dump_task_recipe, is_task_recipe, task_recipe_from_dict

WEIGHTS, RECIPE, METRICS, MANIFEST = "model.weights.h5", "recipe.yaml", "metrics.jsonl", "manifest.json"


def make_task(recipe: TaskRecipe) -> AlgorithmicTask:
    t = recipe.task
    return AlgorithmicTask(t.name, t.bits, t.min_repeats, t.max_repeats, t.item_length)


def build(recipe: TaskRecipe) -> keras.Model:
    task = make_task(recipe)
    return build_task_model(recipe.model, task.input_width, task.output_width)


def sequence_bits(logits, targets, mask):
    """Bits per sequence [batch]: base-2 cross-entropy summed over the judged steps."""
    nats = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(nats * mask[..., None], axis=[1, 2]) / math.log(2.0)


def bit_errors(logits: np.ndarray, batch: Batch) -> np.ndarray:
    """Wrong output bits per sequence [batch] (probability >= 0.5 read as 1)."""
    wrong = (np.asarray(logits) >= 0.0) != (batch.targets >= 0.5)
    return (wrong * batch.mask[..., None]).sum(axis=(1, 2))


PAD_STEPS = 8


def pad(batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch's arrays with the time axis padded with zeros to a multiple of PAD_STEPS."""
    extra = -batch.inputs.shape[1] % PAD_STEPS
    return tuple(np.pad(a, [(0, 0), (0, extra)] + [(0, 0)] * (a.ndim - 2))
                 for a in (batch.inputs, batch.targets, batch.mask))


class TaskTrainer:
    """One training step over batches of any length, compiled with XLA: the NTM's step is dozens
    of small operations, which XLA fuses (3-4x faster on a CPU). XLA compiles once per shape, so
    `pad` rounds each batch's length up to a multiple of PAD_STEPS with empty, unjudged steps at
    the end; the models are causal (attention aside), so those steps change nothing before them.
    """

    def __init__(self, model: keras.Model, recipe: TaskRecipe):
        c = recipe.train
        self.model = model
        clip = {"global_clipnorm": c.clip_norm} if c.clip_norm else {}
        rate = c.learning_rate
        if c.lr_schedule == "cosine":  # small late steps: a learned NTM's sharp heads are easily knocked off
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=math.ceil(c.sequences / c.batch_size))
        if c.optimizer == "adam":
            self.optimizer = keras.optimizers.Adam(rate, **clip)
        else:  # Graves et al.'s choice, with momentum 0.9
            self.optimizer = keras.optimizers.RMSprop(rate, momentum=0.9, **clip)
        self.optimizer.build(model.trainable_variables)
        width_in, width_out = model.input_shape[-1], model.output_shape[-1]
        self.step = tf.function(self._step, jit_compile=True, autograph=False, input_signature=[  # traced once
            tf.TensorSpec((None, None, width_in), tf.float32),
            tf.TensorSpec((None, None, width_out), tf.float32),
            tf.TensorSpec((None, None), tf.float32)])

    def train_on(self, batch: Batch) -> float:
        """One update on `batch`; returns its mean cost in bits per sequence."""
        return float(self.step(*(tf.constant(part) for part in pad(batch))))

    def _step(self, inputs, targets, mask):
        with tf.GradientTape() as tape:
            bits = tf.reduce_mean(sequence_bits(self.model(inputs, training=True), targets, mask))
        gradients = tape.gradient(bits, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return bits


def train_task(recipe: TaskRecipe, overwrite: bool = False, progress=None,
               note=lambda line: print(line, file=sys.stderr)) -> dict[str, Any]:
    """Train `recipe`'s model on freshly generated batches; returns the manifest. SIGINT and
    SIGTERM end the run after the step in progress (see `stopped_by` in the manifest)."""
    with training_lock(recipe.train.model_dir, note), stop_requests() as stop:
        return _train_task(recipe, overwrite, progress, stop)


def _train_task(recipe: TaskRecipe, overwrite: bool, progress, stop) -> dict[str, Any]:
    c, t = recipe.train, recipe.task
    keras.utils.set_random_seed(c.seed)
    rng = np.random.default_rng(c.seed)
    task = make_task(recipe)
    model = build(recipe)
    trainer = TaskTrainer(model, recipe)
    metrics, window, seen, stopped_by = [], [], 0, "sequences"
    started = time.monotonic()

    def log() -> None:
        metrics.append({"sequences": seen, "bits_per_sequence": float(np.mean(window)),
                        "seconds": round(time.monotonic() - started, 1)})
        window.clear()
        if progress:
            progress(metrics[-1])

    with atomic_dir(c.model_dir, overwrite) as staging:
        (staging / RECIPE).write_text(dump_task_recipe(recipe), encoding="utf-8")
        while seen < c.sequences:
            if stop:
                stopped_by = signal_name(stop.signal)
                break
            if c.max_minutes and time.monotonic() - started > 60 * c.max_minutes:
                stopped_by = "time budget"
                break
            batch = task.batch(rng, c.batch_size, int(rng.integers(t.min_length, t.max_length + 1)))
            bits = trainer.train_on(batch)
            if not math.isfinite(bits):
                raise TrainingDiverged(f"the training cost became {bits} after {seen} sequences; "
                                       "nothing was written (try a lower train.learning_rate)")
            seen += c.batch_size
            window.append(bits)
            if seen // c.log_every > (seen - c.batch_size) // c.log_every:
                log()
        if window:  # the sequences since the last record
            log()
        manifest = {"task": t.name, "model": recipe.model.type, "parameters": model.count_params(),
                    "sequences": seen, "seconds": round(time.monotonic() - started, 1),
                    "stopped_by": stopped_by,
                    "final_bits_per_sequence": metrics[-1]["bits_per_sequence"] if metrics else None}
        model.save_weights(staging / WEIGHTS)
        (staging / METRICS).write_text("".join(json.dumps(m) + "\n" for m in metrics), encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        write_checksums(staging, (RECIPE, WEIGHTS))
    if stop and stopped_by == signal_name(stop.signal):
        raise stop.stopped(f"after {seen:,} sequences: {c.model_dir} holds the model trained so far "
                           "(task training does not resume)")
    return manifest


def load_task_model(model_dir: str | Path) -> tuple[TaskRecipe, keras.Model]:
    model_dir = Path(model_dir)
    if not (model_dir / RECIPE).is_file():
        raise ModelDirError(f"{model_dir} is not a task model directory: no {RECIPE}")
    raw = read_yaml_file(model_dir / RECIPE, ModelDirError, "model recipe")
    if not isinstance(raw, dict) or not is_task_recipe(raw):
        raise ModelDirError(f"{model_dir} is not a task model directory (its {RECIPE} has no task section)")
    try:
        recipe = task_recipe_from_dict(raw, source=str(model_dir / RECIPE))
    except RecipeError as exc:  # in a model directory, a damaged model directory
        raise ModelDirError(str(exc)) from None
    verify_checksums(model_dir)
    model = build(recipe)
    try:
        model.load_weights(model_dir / WEIGHTS)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"{model_dir / WEIGHTS}: cannot load the weights ({one_line(exc)})") from None
    return recipe, model


def evaluate(recipe: TaskRecipe, model: keras.Model, lengths: list[int], sequences: int = 100,
             seed: int = 0, batch_size: int = 50, repeats: list[int] | None = None) -> list[dict[str, Any]]:
    """Per length (and, for repeat_copy given `repeats`, per length and repeat count): mean bit
    errors and cost (bits) per sequence, and the share of perfect sequences, over `sequences`
    random sequences (the same ones for every model, by `seed`). Without `repeats`, repeat_copy
    draws each batch's count from the recipe's training range."""
    task = make_task(recipe)
    predict = tf.function(lambda x: model(x, training=False), autograph=False,
                          input_signature=[tf.TensorSpec((None, None, task.input_width), tf.float32)])
    rows = []
    for length, count in [(n, r) for n in lengths for r in (repeats or [None])]:
        rng = np.random.default_rng([seed, length] + ([count] if count else []))
        errors, costs = [], []
        for start in range(0, sequences, batch_size):
            batch = task.batch(rng, min(batch_size, sequences - start), length, count)
            logits = predict(tf.constant(batch.inputs))
            errors.append(bit_errors(logits, batch))
            costs.append(sequence_bits(logits, batch.targets, batch.mask).numpy())
        errors, costs = np.concatenate(errors), np.concatenate(costs)
        rows.append({"length": length, **({"repeats": count} if count else {}),
                     "bit_errors": float(errors.mean()), "bits": float(costs.mean()),
                     "perfect": float((errors == 0).mean() * 100)})
    return rows
