"""`nmtkit train`: teacher-forced training with validation, checkpoints, exact resume and early
stopping.

A run is a sequence of updates over epochs of length-bucketed batches. The batch order of epoch e
is a pure function of (seed, e), the learning rate one of the step and the plateau state, and
dropout masks come from one generator whose state is saved: so a checkpoint (weights, optimizer
variables, position, schedule, generator) lets `--resume` continue exactly where a run stopped,
and on the CPU a resumed run ends with the weights of an uninterrupted one.

This module sets a run up (data, model, optimizer, validation, where it resumes) on one process
or on each worker of a cluster (nmtkit.cluster); `nmtkit.run_loop` carries it out.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nmtkit import __version__
from nmtkit.artifacts import RECIPE, ModelWriter
from nmtkit.checkpoints import checkpoint_dirs, latest_intact_checkpoint, load_checkpoint
from nmtkit.cluster import DEFAULT_TIMEOUT_S, Cluster
from nmtkit.config import Recipe, TrainConfig, load_recipe
from nmtkit.data.batching import Batch, make_batch, plan_batches
from nmtkit.data.embeddings import load_tables
from nmtkit.data.prepared import Split, load_split, load_vocabs, read_manifest
from nmtkit.data.tokenizer import load_pair
from nmtkit.data.vocab import PAD
from nmtkit.devices import training_cluster
from nmtkit.errors import ModelDirError, RecipeError
from nmtkit.interrupts import StopRequest, stop_requests
from nmtkit.models.seq2seq import build_model
from nmtkit.optimization import LearningRate, make_optimizer
from nmtkit.precision import dtype_policy
from nmtkit.run_lock import training_lock
from nmtkit.run_loop import ChiefRecords, Clock, Run, RunState, WorkerRecords, local_rows
from nmtkit.validation import Validator

_BATCH_SIGNATURE = [tf.TensorSpec([None, None], tf.int32)] * 3 + [tf.TensorSpec([], tf.float32)]


class Trainer:
    """The compiled update step of one model and its optimizer, on one device or several.

    Each replica's loss is its share of the global batch's summed loss divided by the global
    batch's token count, so the replicas' gradients add up (the optimizer all-reduces them) to
    the gradient of the whole batch: a step on N replicas equals the step on one. On a worker of
    a cluster the replicas are this worker's, and the batch its share of the global batch.
    """

    def __init__(self, model: keras.Model, config: TrainConfig, strategy: tf.distribute.Strategy | None = None):
        self.model = model
        self.smoothing = config.label_smoothing
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        with self.strategy.scope():
            self.optimizer = make_optimizer(config)
            self.optimizer.build(model.trainable_variables)
        if self.replicas == 1:
            self._step = tf.function(self._replica_step, autograph=False, input_signature=_BATCH_SIGNATURE)
        else:
            self._step = tf.function(self._distributed_step, autograph=False, reduce_retracing=True)
            ids = []  # this process's replicas (all of them, but on a worker of a cluster)
            self.strategy.experimental_distribute_values_from_function(
                lambda context: ids.append(context.replica_id_in_sync_group) or 0)
            self._first, self._local = min(ids), len(ids)

    def _replica_step(self, src, tgt_in, tgt_out, batch_tokens):
        with tf.GradientTape() as tape:
            loss_sum, tokens = self.model.training_loss(src, tgt_in, tgt_out, self.smoothing)
            loss = self.optimizer.scale_loss(loss_sum / batch_tokens)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss_sum, tokens

    def _distributed_step(self, src, tgt_in, tgt_out, batch_tokens):
        loss_sum, tokens = self.strategy.run(self._replica_step, args=(src, tgt_in, tgt_out, batch_tokens))
        return (self.strategy.reduce("SUM", loss_sum, axis=None),
                self.strategy.reduce("SUM", tokens, axis=None))

    def train_step(self, batch: Batch, learning_rate: float, batch_tokens: float | None = None) -> tuple[float, float]:
        """One update at `learning_rate`; returns the global batch's summed loss and its token
        count. `batch_tokens`: the global batch's target tokens, where `batch` is a worker's share."""
        self.optimizer.learning_rate = learning_rate
        if batch_tokens is None:
            batch_tokens = float(np.count_nonzero(batch.tgt_out != PAD))
        batch_tokens = tf.constant(batch_tokens, tf.float32)
        if self.replicas == 1:
            loss_sum, tokens = self._step(*batch, batch_tokens)
        else:  # each replica takes a slice of the rows, padded to the batch's width
            parts = [np.array_split(x, self._local) for x in batch]
            values = self.strategy.experimental_distribute_values_from_function(
                lambda context: tuple(p[context.replica_id_in_sync_group - self._first] for p in parts))
            loss_sum, tokens = self._step(*values, batch_tokens)
        return float(loss_sum), float(tokens)


def describe_model(recipe: Recipe) -> dict[str, int]:
    """Parameters per component of the recipe's model, built for its prepared vocabularies."""
    prepared = Path(recipe.data.prepared)
    read_manifest(prepared, "prepared data directory (run `nmtkit preprocess`)")
    src_vocab, tgt_vocab = load_vocabs(prepared)
    model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), dtype_policy(recipe.train.precision))
    return {**model.parameters_by_part(), "total": model.count_params()}


def _initial_embeddings(recipe: Recipe, prepared: Path) -> dict[str, np.ndarray]:
    """The embedding tables the recipe asks for, from the prepared data."""
    wanted = [side for side in ("src", "tgt") if recipe.embeddings.wanted(side)]
    tables = load_tables(prepared, recipe.model.embedding_dim) if wanted else {}
    for side in wanted:
        if side not in tables:
            raise RecipeError(f"the recipe's embeddings section asks for {side} embeddings but {prepared} "
                              "holds none: run `nmtkit preprocess` with this recipe first")
    return {side: tables[side] for side in wanted}


def train(recipe: Recipe, overwrite: bool = False, resume: bool = False, started_at: float | None = None,
          worker_timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Train the recipe's model on its prepared data; returns the model directory's manifest.

    On one process, or on every worker of a `TF_CONFIG` cluster (nmtkit.cluster), where only
    the chief writes. The writer holds the model directory's lock throughout. SIGINT and SIGTERM
    stop the run after the step in progress and a checkpoint, and raise `Stopped`.
    `worker_timeout_s`: how long a worker waits for a silent peer before `WorkerLost`."""
    notes: list[str] = []
    with stop_requests() as stop:
        cluster = training_cluster(recipe.train.device, worker_timeout_s)
        lock = training_lock(recipe.train.model_dir, notes.append) if cluster.is_chief else nullcontext()
        with cluster.watch(lambda: "while the workers started", lambda: "nothing was written"), lock:
            return _train(recipe, overwrite, resume, started_at, stop, notes, cluster)


def _train(recipe: Recipe, overwrite: bool, resume: bool, started_at: float | None, stop: StopRequest,
           notes: list[str], cluster: Cluster) -> dict[str, Any]:
    config = recipe.train
    prepared = Path(recipe.data.prepared)
    data_manifest = read_manifest(prepared, "prepared data directory (run `nmtkit preprocess`)")
    src_vocab, tgt_vocab = load_vocabs(prepared)
    train_split = load_split(prepared, "train")
    valid_split = load_split(prepared, "valid")
    checkpoint = _checkpoint_to_resume(recipe, notes) if resume else None

    strategy = cluster.strategy
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()  # a seed makes a CPU run repeatable
    tables = _initial_embeddings(recipe, prepared)
    with strategy.scope():
        model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), dtype_policy(config.precision),
                            seed=config.seed)
        model.start_embeddings(tables, recipe.embeddings.freeze)
    trainer = Trainer(model, config, strategy)
    validator = Validator(model, valid_split, config.batch_size, config.valid_metric,
                          load_pair(prepared).tgt, tgt_vocab)
    schedule = LearningRate(config)
    state = RunState()
    if checkpoint is not None:
        state = RunState(**{k: v for k, v in load_checkpoint(checkpoint, model, trainer.optimizer).items()
                            if k in RunState.__dataclass_fields__})
        schedule.restore(state.schedule)
    _agree_on_checkpoint(cluster, checkpoint, state.step, Path(config.model_dir))
    src_len, tgt_len = train_split.src.lengths(), train_split.tgt.lengths()
    steps_per_epoch = len(plan_batches(src_len, tgt_len, config.batch_size, config.batch_tokens))

    def describe(run: RunState, stopped_by: str | None) -> dict[str, Any]:
        """The model directory's manifest."""
        return {
            "nmtkit_version": __version__,
            "parameters": model.count_params(),
            "data": data_manifest,
            "training": {
                "steps": run.step,
                "epochs": round(run.step / steps_per_epoch, 3),
                "target_tokens": run.target_tokens,
                "train_seconds": round(run.train_seconds, 1),
                "train_tokens_per_s": round(run.tokens_per_second, 1),
                "replicas": trainer.replicas,
                "workers": cluster.workers,
                "precision": model.dtype_policy.name,  # what `auto` chose
                "valid_metric": config.valid_metric,
                "stopped_by": stopped_by,
                "best": run.best,
            },
        }

    if cluster.is_chief:
        records = ChiefRecords(ModelWriter(config.model_dir, overwrite, reopen=checkpoint is not None),
                               steps_per_epoch * config.epochs)
    else:
        records = WorkerRecords(config.model_dir)
    clock = Clock(started_at or time.monotonic(), config.max_minutes * 60)
    run = Run(config, cluster, model, trainer, validator, schedule, state, records, clock, steps_per_epoch, stop,
              describe, resumed=checkpoint is not None)
    with records, cluster.watch(run.where, records.kept):
        for note in notes:
            records.log(note)
        if checkpoint is None:
            records.start(recipe, prepared)
        else:
            records.log(f"resuming from {checkpoint} (step {state.step}, epoch {state.epoch})")
        if cluster.workers > 1:
            records.log(f"training on {cluster.workers} workers, {trainer.replicas} replicas in all")
        stopped_by = "epochs"
        while state.epoch < config.epochs and stopped_by == "epochs":
            order = plan_batches(src_len, tgt_len, config.batch_size, config.batch_tokens,
                                 np.random.default_rng([config.seed, state.epoch]))
            for batch, batch_tokens in _local_batches(train_split, order[state.next_batch:], cluster):
                stopped_by = run.stop_reason() or stopped_by
                if stopped_by != "epochs":
                    break
                if run.step(batch, batch_tokens):
                    stopped_by = "early stopping"
                    break
            else:  # the epoch is complete
                if run.end_epoch():
                    stopped_by = "early stopping"
        if stopped_by in ("SIGINT", "SIGTERM"):
            raise run.stopped(stopped_by)
        return run.finish(stopped_by)


def _agree_on_checkpoint(cluster: Cluster, checkpoint: Path | None, step: int, model_dir: Path) -> None:
    """Every worker resumes from the chief's checkpoint (read from the model directory, which
    they must all see), or all start afresh."""
    own = step if checkpoint is not None else -1
    chief = int(cluster.from_chief([own])[0])
    if cluster.agree([own != chief])[0]:
        if own != chief:
            what = f"checkpoint step-{own:08d}" if own >= 0 else "no checkpoint"
            raise ModelDirError(f"{cluster.name} finds {what} in {model_dir} but the chief resumes from "
                                f"{f'step {chief}' if chief >= 0 else 'none'}: with --resume every worker reads "
                                "the chief's model directory (a shared filesystem)")
        raise ModelDirError(f"cannot resume on {cluster.workers} workers: another worker does not see the "
                            f"checkpoint of {model_dir} (with --resume every worker reads the chief's model "
                            "directory: a shared filesystem)")


def _local_batches(split: Split, chunks: list[np.ndarray], cluster: Cluster):
    """This worker's share of each global batch of `chunks` (padded to the global batch's width, so
    that every replica computes what one process would) and the global batch's target token
    count. Built here, between steps: about 2 ms for 64 sentences of the reference recipe. (A
    tf.data pipeline that built them ahead on its own thread left the training loop waiting
    about 90 ms a step, a fifth of a 4-minute run.)"""
    src_len, tgt_len = split.src.lengths(), split.tgt.lengths()
    for chunk in chunks:
        rows = local_rows(chunk, cluster)
        batch = make_batch([split.src[i] for i in rows] or [[]], [split.tgt[i] for i in rows] or [[]])
        widths = (src_len[chunk].max(), tgt_len[chunk].max() + 1, tgt_len[chunk].max() + 1)
        batch = [np.pad(x[:len(rows)], ((0, 0), (0, width - x.shape[1])), constant_values=PAD)
                 for x, width in zip(batch, widths)]
        yield Batch(*batch), float(tgt_len[chunk].sum() + len(chunk))


def _checkpoint_to_resume(recipe: Recipe, notes: list[str]) -> Path | None:
    """The latest intact checkpoint of the recipe's model directory (a note in `notes` for each
    newer one that is damaged); None when there is none yet."""
    model_dir = Path(recipe.train.model_dir)
    if not (model_dir.is_dir() and checkpoint_dirs(model_dir)):
        return None
    saved = load_recipe(model_dir / RECIPE)
    if saved.model != recipe.model:
        raise RecipeError(f"cannot resume {model_dir}: the recipe's model section differs from {model_dir / RECIPE}")
    found, skipped = latest_intact_checkpoint(model_dir)
    notes.extend(f"note: {line}" for line in skipped)
    if found is None:
        raise ModelDirError(f"cannot resume {model_dir}: every checkpoint is damaged ({skipped[0]})")
    return found


