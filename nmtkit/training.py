"""`nmtkit train`: teacher-forced training with validation, checkpoints, exact resume and early
stopping.

A run is a sequence of updates over epochs of length-bucketed batches. The batch order of epoch e
is a pure function of (seed, e), the learning rate one of the step and the plateau state, and
dropout masks come from one generator whose state is saved: so a checkpoint (weights, optimizer
variables, position, schedule, generator) lets `--resume` continue exactly where a run stopped,
and on the CPU a resumed run ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import keras
import numpy as np
import tensorflow as tf

from nmtkit import __version__
from nmtkit.artifacts import RECIPE, ModelWriter
from nmtkit.checkpoints import checkpoint_dirs, latest_intact_checkpoint, load_checkpoint, save_checkpoint
from nmtkit.config import Recipe, TrainConfig, load_recipe
from nmtkit.data.batching import Batch, make_batch, plan_batches
from nmtkit.data.embeddings import load_tables
from nmtkit.data.prepared import Split, load_split, load_vocabs, read_manifest
from nmtkit.data.tokenizer import load_pair
from nmtkit.data.vocab import PAD
from nmtkit.devices import training_strategy
from nmtkit.errors import ModelDirError, RecipeError, StorageError, TrainingDiverged
from nmtkit.interrupts import signal_name, stop_requests
from nmtkit.losses import token_losses
from nmtkit.models.seq2seq import build_model
from nmtkit.optimization import LearningRate, make_optimizer
from nmtkit.precision import dtype_policy
from nmtkit.progress import TrainingProgress
from nmtkit.run_lock import training_lock
from nmtkit.validation import HIGHER_IS_BETTER, Validator

_BATCH_SIGNATURE = [tf.TensorSpec([None, None], tf.int32)] * 3 + [tf.TensorSpec([], tf.float32)]


class Trainer:
    """The compiled update step of one model and its optimizer, on one device or several.

    Each replica's loss is its share of the global batch's summed loss divided by the global
    batch's token count, so the replicas' gradients add up (the optimizer all-reduces them) to
    the gradient of the whole batch: a step on N replicas equals the step on one.
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
            self._step = tf.function(self._replica_step, input_signature=_BATCH_SIGNATURE)
        else:
            self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def _replica_step(self, src, tgt_in, tgt_out, batch_tokens):
        with tf.GradientTape() as tape:
            logits = self.model((src, tgt_in), training=True)
            loss_sum, tokens = token_losses(logits, tgt_out, self.smoothing)
            loss = self.optimizer.scale_loss(loss_sum / batch_tokens)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss_sum, tokens

    def _distributed_step(self, src, tgt_in, tgt_out, batch_tokens):
        loss_sum, tokens = self.strategy.run(self._replica_step, args=(src, tgt_in, tgt_out, batch_tokens))
        return (self.strategy.reduce("SUM", loss_sum, axis=None),
                self.strategy.reduce("SUM", tokens, axis=None))

    def train_step(self, batch: Batch, learning_rate: float) -> tuple[float, float]:
        """One update at `learning_rate`; returns the batch's summed loss and its token count."""
        self.optimizer.learning_rate = learning_rate
        batch_tokens = tf.constant(float(np.count_nonzero(batch.tgt_out != PAD)))
        if self.replicas == 1:
            loss_sum, tokens = self._step(*batch, batch_tokens)
        else:  # each replica takes a slice of the rows, padded to the batch's width
            parts = [np.array_split(x, self.replicas) for x in batch]
            values = self.strategy.experimental_distribute_values_from_function(
                lambda context: tuple(p[context.replica_id_in_sync_group] for p in parts))
            loss_sum, tokens = self._step(*values, batch_tokens)
        return float(loss_sum), float(tokens)


@dataclass
class RunState:
    """Where a run is, saved in every checkpoint."""

    step: int = 0  # updates done
    epoch: int = 0  # the epoch in progress
    next_batch: int = 0  # index in that epoch's batch order
    target_tokens: int = 0
    train_seconds: float = 0.0
    loss_since_validation: list[float] = field(default_factory=lambda: [0.0, 0.0])  # summed loss, tokens
    metrics: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    bad_validations: int = 0  # in a row, for early stopping
    schedule: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.target_tokens / self.train_seconds if self.train_seconds else 0.0


@dataclass
class _Clock:
    """Wall-clock budget of the whole command, measured from `started_at`."""

    started_at: float
    budget_s: float  # 0 = none
    reserve_s: float = 0.0  # time kept back for the final validation and save

    def out_of_time(self) -> bool:
        return bool(self.budget_s) and time.monotonic() + self.reserve_s >= self.started_at + self.budget_s


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


def train(recipe: Recipe, overwrite: bool = False, resume: bool = False,
          started_at: float | None = None) -> dict[str, Any]:
    """Train the recipe's model on its prepared data; returns the model directory's manifest.

    Holds the model directory's lock throughout. SIGINT and SIGTERM stop the run after the step
    in progress and a checkpoint, and raise `Stopped`."""
    notes: list[str] = []
    with training_lock(recipe.train.model_dir, notes.append), stop_requests() as stop:
        return _train(recipe, overwrite, resume, started_at, stop, notes)


def _train(recipe: Recipe, overwrite: bool, resume: bool, started_at: float | None, stop,
           notes: list[str]) -> dict[str, Any]:
    config = recipe.train
    prepared = Path(recipe.data.prepared)
    data_manifest = read_manifest(prepared, "prepared data directory (run `nmtkit preprocess`)")
    src_vocab, tgt_vocab = load_vocabs(prepared)
    train_split = load_split(prepared, "train")
    valid_split = load_split(prepared, "valid")
    checkpoint = _checkpoint_to_resume(recipe, notes) if resume else None

    strategy = training_strategy(config.device)
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
    run = RunState()
    if checkpoint is not None:
        run = RunState(**{k: v for k, v in load_checkpoint(checkpoint, model, trainer.optimizer).items()
                          if k in RunState.__dataclass_fields__})
        schedule.restore(run.schedule)
    src_len, tgt_len = train_split.src.lengths(), train_split.tgt.lengths()
    steps_per_epoch = len(plan_batches(src_len, tgt_len, config.batch_size, config.batch_tokens))
    clock = _Clock(started_at or time.monotonic(), config.max_minutes * 60)
    metric_key = f"valid_{config.valid_metric}"

    def manifest(stopped_by: str | None = None) -> dict[str, Any]:
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
                "precision": model.dtype_policy.name,  # what `auto` chose
                "valid_metric": config.valid_metric,
                "stopped_by": stopped_by,
                "best": run.best,
            },
        }

    writer = ModelWriter(config.model_dir, overwrite, reopen=checkpoint is not None)
    with writer, TrainingProgress(steps_per_epoch * config.epochs) as progress:
        for note in notes:
            progress.log(note)
        if checkpoint is None:
            writer.write_static(recipe, prepared)
        else:
            progress.log(f"resuming from {checkpoint} (step {run.step}, epoch {run.epoch})")
        board = _Board(writer)
        saved_step = run.step if checkpoint is not None else None

        def save_checkpoint_now() -> None:
            """Checkpoint the run, once per step (a stop may follow a checkpoint); checkpoints
            start with the first validation's save."""
            nonlocal saved_step
            if writer.published and saved_step != run.step:
                run.schedule = schedule.state()
                with _storage(writer, "a checkpoint"):
                    save_checkpoint(writer.dir, model, trainer.optimizer, asdict(run), config.keep_checkpoints)
                saved_step = run.step

        def validate() -> bool:
            """Validate, keep the best model, checkpoint; True when early stopping says stop."""
            began = time.monotonic()
            loss_sum, loss_tokens = run.loss_since_validation
            metrics = {"step": run.step, "epoch": round(run.step / steps_per_epoch, 3),
                       "train_loss": loss_sum / loss_tokens if loss_tokens else None,
                       "learning_rate": schedule.at(max(run.step - 1, 0)), **validator(),
                       "train_tokens_per_s": round(run.tokens_per_second, 1)}
            run.loss_since_validation = [0.0, 0.0]
            run.metrics.append(metrics)
            score = metrics[metric_key] * (1 if HIGHER_IS_BETTER[metric_key] else -1)
            improved = run.best is None or score > run.best[metric_key] * (1 if HIGHER_IS_BETTER[metric_key] else -1)
            if improved:
                run.best, run.bad_validations = metrics, 0
            else:
                run.bad_validations += 1
            decayed = schedule.observe(score)
            with _storage(writer, "the model"):
                writer.save(manifest(), run.metrics, model if improved else None)
            save_checkpoint_now()
            board.write(metrics)
            progress.log(_describe(metrics, config.valid_metric, run.tokens_per_second)
                         + ("  (best, saved)" if improved else "")
                         + (f"  learning rate x{config.decay_rate}" if decayed else ""))
            clock.reserve_s = time.monotonic() - began
            return bool(config.patience) and run.bad_validations >= config.patience

        stopped_by = "epochs"
        while run.epoch < config.epochs and stopped_by == "epochs":
            order = plan_batches(src_len, tgt_len, config.batch_size, config.batch_tokens,
                                 np.random.default_rng([config.seed, run.epoch]))
            for batch in _prefetched(train_split, order[run.next_batch:]):
                if stop:
                    stopped_by = signal_name(stop.signal)
                    break
                if clock.out_of_time():
                    stopped_by = "time budget"
                    break
                began = time.monotonic()
                loss_sum, tokens = trainer.train_step(batch, schedule.at(run.step))
                run.train_seconds += time.monotonic() - began
                if not math.isfinite(loss_sum):
                    raise TrainingDiverged(f"the training loss became {loss_sum / tokens} at step {run.step + 1}; "
                                           f"training stopped ({_kept(writer)}); try a lower train.learning_rate")
                run.step += 1
                run.next_batch += 1
                run.target_tokens += int(tokens)
                run.loss_since_validation = [run.loss_since_validation[0] + loss_sum,
                                             run.loss_since_validation[1] + tokens]
                progress.update(run.step, loss_sum / tokens, run.tokens_per_second, schedule.at(run.step))
                if config.valid_every and run.step % config.valid_every == 0:
                    if validate():
                        stopped_by = "early stopping"
                        break
                elif config.checkpoint_every and run.step % config.checkpoint_every == 0:
                    save_checkpoint_now()
            else:  # the epoch is complete
                run.epoch, run.next_batch = run.epoch + 1, 0
                if not config.valid_every:
                    if validate():
                        stopped_by = "early stopping"
                else:
                    save_checkpoint_now()
        if stop and stopped_by == signal_name(stop.signal):
            save_checkpoint_now()
            if writer.published:
                with _storage(writer, "the model"):
                    writer.save(manifest(stopped_by), run.metrics)
            board.close()
            raise stop.stopped(f"at step {run.step} (epoch {run.step / steps_per_epoch:.2f}): {_kept(writer)}")
        if not run.metrics or run.metrics[-1]["step"] != run.step:
            validate()
        final = manifest(stopped_by)
        with _storage(writer, "the model"):
            writer.save(final, run.metrics)
        board.close()
    return final


def _prefetched(split: Split, chunks: list[np.ndarray]):
    """The padded batches of `chunks`, built by tf.data two batches ahead of the training step,
    so that reading their sentences (memory-mapped, perhaps from disk) overlaps training."""
    def generate():
        for chunk in chunks:
            yield tuple(make_batch([split.src[i] for i in chunk], [split.tgt[i] for i in chunk]))

    spec = tf.TensorSpec([None, None], tf.int32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec, spec)).prefetch(2)
    for src, tgt_in, tgt_out in dataset:
        yield Batch(src.numpy(), tgt_in.numpy(), tgt_out.numpy())


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


def _kept(writer: ModelWriter) -> str:
    """What a failed run leaves behind, for its error message."""
    if not writer.published:
        return "nothing was kept: checkpoints start at the first validation"
    kept = checkpoint_dirs(writer.dir)
    if not kept:
        return f"{writer.dir} keeps its model but no checkpoint yet"
    return f"{writer.dir} keeps the checkpoint {kept[-1].name}"


@contextmanager
def _storage(writer: ModelWriter, what: str) -> Iterator[None]:
    """A failed write (disk full, read-only, ...) as one clear error; the files written before
    it are intact (every write is atomic)."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write {what} in {writer.dir}: {exc.strerror or exc}; training stopped "
                           f"({_kept(writer)})") from None


def _describe(metrics: dict[str, Any], metric: str, tokens_per_second: float) -> str:
    text = (f"step {metrics['step']} epoch {metrics['epoch']:.2f}: valid loss {metrics['valid_loss']:.3f} "
            f"ppl {metrics['valid_ppl']:.2f} acc {metrics['valid_acc']:.1f}%")
    if "valid_bleu" in metrics:
        text += f" BLEU {metrics['valid_bleu']:.2f} chrF {metrics['valid_chrf']:.2f}"
    return text + f"  lr {metrics['learning_rate']:.2e}  train {tokens_per_second:,.0f} tok/s"


class _Board:
    """TensorBoard scalars of every validation, in MODEL_DIR/tensorboard (once it is published)."""

    def __init__(self, writer: ModelWriter):
        self.writer, self.summaries = writer, None

    def write(self, metrics: dict[str, Any]) -> None:
        if self.summaries is None:
            self.summaries = tf.summary.create_file_writer(str(self.writer.dir / "tensorboard"))
        with self.summaries.as_default(step=metrics["step"]):
            for name, value in metrics.items():
                if name != "step" and value is not None:
                    tf.summary.scalar(name, value)
        self.summaries.flush()

    def close(self) -> None:
        if self.summaries is not None:
            self.summaries.close()
