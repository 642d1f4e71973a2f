"""A training run in progress: its state, where it writes, its validation and its stop decisions.

`Run` is the same on every worker of a multi-worker run (and for one process): each worker
takes the same steps, validates, and decides to stop from the same figures (`Cluster.agree`
and `Cluster.from_chief`), so no worker leaves the others waiting on a collective. Only where
the run writes differs: the chief's `ChiefRecords` keep the model directory (best weights,
checkpoints, metrics.jsonl, manifest, TensorBoard) and print progress; another worker's
`WorkerRecords` write nothing (the chief's files are the run's).
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import tensorflow as tf

from nmtkit.artifacts import ModelWriter
from nmtkit.checkpoints import checkpoint_dirs, save_checkpoint
from nmtkit.cluster import Cluster
from nmtkit.config import Recipe, TrainConfig
from nmtkit.data.batching import Batch
from nmtkit.errors import StorageError, TrainingDiverged
from nmtkit.interrupts import StopRequest, Stopped, signal_name
from nmtkit.optimization import LearningRate
from nmtkit.progress import TrainingProgress
from nmtkit.validation import HIGHER_IS_BETTER


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
class Clock:
    """Wall-clock budget of the whole command, measured from `started_at`."""

    started_at: float
    budget_s: float  # 0 = none
    reserve_s: float = 0.0  # time kept back for the final validation and save

    def out_of_time(self) -> bool:
        return bool(self.budget_s) and time.monotonic() + self.reserve_s >= self.started_at + self.budget_s


class ChiefRecords:
    """What the chief (or a single process) writes: the model directory, TensorBoard, progress."""

    def __init__(self, writer: ModelWriter, total_steps: int):
        self.writer, self.progress, self.board = writer, TrainingProgress(total_steps), _Board(writer)

    def __enter__(self) -> "ChiefRecords":
        self.writer.__enter__()
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.board.close()
        self.progress.__exit__(*exc_info)
        self.writer.__exit__(*exc_info)

    @property
    def can_checkpoint(self) -> bool:  # checkpoints start with the first validation's save
        return self.writer.published

    def start(self, recipe: Recipe, prepared: Path) -> None:
        self.writer.write_static(recipe, prepared)

    def log(self, message: str) -> None:
        self.progress.log(message)

    def update(self, step: int, loss: float, tokens_per_second: float, learning_rate: float) -> None:
        self.progress.update(step, loss, tokens_per_second, learning_rate)

    def save(self, manifest: dict[str, Any], metrics: list[dict[str, Any]], model=None) -> None:
        with self._storage("the model"):
            self.writer.save(manifest, metrics, model)

    def save_if_published(self, manifest: dict[str, Any], metrics: list[dict[str, Any]]) -> None:
        if self.writer.published:
            self.save(manifest, metrics)

    def checkpoint(self, model, optimizer, state: dict[str, Any], keep: int) -> None:
        with self._storage("a checkpoint"):
            save_checkpoint(self.writer.dir, model, optimizer, state, keep)

    def scalars(self, metrics: dict[str, Any]) -> None:
        self.board.write(metrics)

    def kept(self) -> str:
        """What a failed run leaves behind, for its error message."""
        if not self.writer.published:
            return "nothing was kept: checkpoints start at the first validation"
        kept = checkpoint_dirs(self.writer.dir)
        if not kept:
            return f"{self.writer.dir} keeps its model but no checkpoint yet"
        return f"{self.writer.dir} keeps the checkpoint {kept[-1].name}"

    @contextmanager
    def _storage(self, what: str) -> Iterator[None]:
        """A failed write (disk full, read-only, ...) as one clear error; the files written before
        it are intact (every write is atomic)."""
        try:
            yield
        except OSError as exc:
            raise StorageError(f"cannot write {what} in {self.writer.dir}: {exc.strerror or exc}; training "
                               f"stopped ({self.kept()})") from None


class WorkerRecords:
    """What another worker writes: nothing (TensorFlow's guidance: only the chief's files last).
    Its progress and the run's files are the chief's."""

    can_checkpoint = False

    def __init__(self, model_dir: str | Path):
        self.model_dir = model_dir

    def __enter__(self) -> "WorkerRecords":
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def start(self, recipe: Recipe, prepared: Path) -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def update(self, *args) -> None:
        pass

    def save(self, manifest, metrics, model=None) -> None:
        pass

    save_if_published = save

    def checkpoint(self, *args) -> None:
        pass

    def scalars(self, metrics) -> None:
        pass

    def kept(self) -> str:
        return f"the chief keeps the model directory {self.model_dir}"


class Run:
    """One training run from its first (or resumed) step to its end, on one worker."""

    def __init__(self, config: TrainConfig, cluster: Cluster, model, trainer, validator, schedule: LearningRate,
                 state: RunState, records, clock: Clock, steps_per_epoch: int, stop: StopRequest,
                 describe: Callable[[RunState, str | None], dict[str, Any]], resumed: bool):
        self.config, self.cluster, self.model, self.trainer = config, cluster, model, trainer
        self.validator, self.schedule, self.state, self.records = validator, schedule, state, records
        self.clock, self.steps_per_epoch, self.stop, self.describe = clock, steps_per_epoch, stop, describe
        self.saved_step = state.step if resumed else None
        self.metric_key = f"valid_{config.valid_metric}"

    def where(self) -> str:
        return f"at step {self.state.step} (epoch {self.state.step / self.steps_per_epoch:.2f})"

    def stop_reason(self) -> str | None:
        """Before a step: a stop that every worker sees (any worker's signal, any worker's clock)."""
        number = self.stop.signal
        sigint, sigterm, late = self.cluster.agree([number == signal.SIGINT, number == signal.SIGTERM,
                                                    self.clock.out_of_time()])
        if sigterm or sigint:
            return signal_name(signal.SIGTERM if sigterm else signal.SIGINT)
        return "time budget" if late else None

    def step(self, batch: Batch, batch_tokens: float) -> bool:
        """One update on this worker's share of a global batch; True when early stopping says stop."""
        run, config = self.state, self.config
        began = time.monotonic()
        loss_sum, tokens = self.trainer.train_step(batch, self.schedule.at(run.step), batch_tokens)
        run.train_seconds += time.monotonic() - began
        if not math.isfinite(loss_sum):  # the all-reduced loss: every worker sees it
            raise TrainingDiverged(f"the training loss became {loss_sum / tokens} at step {run.step + 1}; "
                                   f"training stopped ({self.records.kept()}); try a lower train.learning_rate")
        run.step += 1
        run.next_batch += 1
        run.target_tokens += int(tokens)
        run.loss_since_validation = [run.loss_since_validation[0] + loss_sum, run.loss_since_validation[1] + tokens]
        self.records.update(run.step, loss_sum / tokens, run.tokens_per_second, self.schedule.at(run.step))
        if config.valid_every and run.step % config.valid_every == 0:
            return self.validate()
        if config.checkpoint_every and run.step % config.checkpoint_every == 0:
            self.checkpoint()
        return False

    def end_epoch(self) -> bool:
        """The epoch is complete; True when early stopping says stop."""
        self.state.epoch, self.state.next_batch = self.state.epoch + 1, 0
        if not self.config.valid_every:
            return self.validate()
        self.checkpoint()
        return False

    def checkpoint(self) -> None:
        """Checkpoint the run, once per step (a stop may follow a checkpoint)."""
        if self.records.can_checkpoint and self.saved_step != self.state.step:
            self.state.schedule = self.schedule.state()
            self.records.checkpoint(self.model, self.trainer.optimizer, asdict(self.state),
                                    self.config.keep_checkpoints)
            self.saved_step = self.state.step

    def validate(self) -> bool:
        """Validate, keep the best model, checkpoint; True when early stopping says stop.

        Every worker validates (so none waits idle on the others for longer than a step), and
        the chief's figures decide on all of them."""
        run, config, key = self.state, self.config, self.metric_key
        began = time.monotonic()
        measured = self.validator()
        names = sorted(measured)
        measured = dict(zip(names, map(float, self.cluster.from_chief([measured[n] for n in names]))))
        loss_sum, loss_tokens = run.loss_since_validation
        metrics = {"step": run.step, "epoch": round(run.step / self.steps_per_epoch, 3),
                   "train_loss": loss_sum / loss_tokens if loss_tokens else None,
                   "learning_rate": self.schedule.at(max(run.step - 1, 0)), **measured,
                   "train_tokens_per_s": round(run.tokens_per_second, 1)}
        run.loss_since_validation = [0.0, 0.0]
        run.metrics.append(metrics)
        sign = 1 if HIGHER_IS_BETTER[key] else -1
        improved = run.best is None or metrics[key] * sign > run.best[key] * sign
        if improved:
            run.best, run.bad_validations = metrics, 0
        else:
            run.bad_validations += 1
        decayed = self.schedule.observe(metrics[key] * sign)
        self.records.save(self.describe(run, None), run.metrics, self.model if improved else None)
        self.checkpoint()
        self.records.scalars(metrics)
        self.records.log(_describe(metrics, config.valid_metric, run.tokens_per_second)
                         + ("  (best, saved)" if improved else "")
                         + (f"  learning rate x{config.decay_rate}" if decayed else ""))
        self.clock.reserve_s = time.monotonic() - began
        return bool(config.patience) and run.bad_validations >= config.patience

    def stopped(self, signal_named: str) -> Stopped:
        """After a stop on a signal: the checkpoint and records saved; the error to raise."""
        self.checkpoint()
        self.records.save_if_published(self.describe(self.state, signal_named), self.state.metrics)
        number = signal.Signals[signal_named].value
        return Stopped(number, f"{signal_named} {self.where()}: {self.records.kept()}")

    def finish(self, stopped_by: str) -> dict[str, Any]:
        """The last validation (unless the last step had one) and the final records."""
        if not self.state.metrics or self.state.metrics[-1]["step"] != self.state.step:
            self.validate()
        final = self.describe(self.state, stopped_by)
        self.records.save(final, self.state.metrics)
        self.cluster.agree([0])  # every worker ends here: none leaves while another still needs it
        return final


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
            self.summaries = None


def local_rows(chunk: np.ndarray, cluster: Cluster) -> np.ndarray:
    """This worker's rows of a global batch: its contiguous share, in worker order."""
    return np.array_split(chunk, cluster.workers)[cluster.index]
