"""Progress on stderr: a live rich bar on a terminal, plain log lines otherwise.

`TrainingProgress` follows training steps; `WorkProgress` follows counted work in stages
(sentences translated, pairs read, checkpoints averaged)."""

from __future__ import annotations

import math
import sys
import time
from typing import Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")
PLAIN_EVERY_S = 10.0  # plain progress lines at most this often: a log file wants a few, not thousands
BAR_EVERY_S = 0.1  # the bar redraws 10 times a second anyway


class TrainingProgress:
    def __init__(self, total_steps: int):
        self.console = Console(file=sys.stderr, soft_wrap=True)
        self.progress = Progress(
            TextColumn("[bold]train[/]"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self.task = self.progress.add_task("train", total=total_steps, stats="")

    def __enter__(self) -> "TrainingProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.progress.stop()

    def update(self, step: int, loss: float, tokens_per_second: float, learning_rate: float) -> None:
        stats = f"loss {loss:.3f} ppl {math.exp(min(loss, 50.0)):.2f}  lr {learning_rate:.2e}  {tokens_per_second:,.0f} tok/s"
        self.progress.update(self.task, completed=step, stats=stats)

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False)


class WorkProgress:
    """Counted work in stages on stderr: a rich bar on a terminal; elsewhere a plain line at
    most every PLAIN_EVERY_S seconds, and one with the totals as such a stage ends (work done
    sooner leaves the log alone); nothing when `quiet`.

    A stage's `total` may be an estimate that changes as the work goes (translate knows the
    size of its input in bytes, not in lines); with one, the lines give an ETA."""

    def __init__(self, quiet: bool = False):
        self.console = None if quiet else Console(file=sys.stderr, soft_wrap=True)
        self.bar = None
        if self.console is not None and self.console.is_terminal:
            self.bar = Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(),
                                TextColumn("{task.completed:,.0f} {task.fields[unit]}  {task.fields[rate]}"),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                console=self.console, redirect_stdout=False, redirect_stderr=False)
            # rich would otherwise route stdout (the results) through the bar, onto stderr
        self.name = None

    def __enter__(self) -> "WorkProgress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is None:  # a failed stage says nothing: the error is the one line to read
            self.end_stage()
        if self.bar is not None:
            self.bar.stop()

    def stage(self, name: str, unit: str, total: float | None = None) -> None:
        """Begin counting `unit`s of the stage `name` (ending the stage before it)."""
        self.end_stage()
        self.name, self.unit, self.done, self.total, self.lines = name, unit, 0, total, 0
        self.began = self.last_shown = time.monotonic()
        if self.bar is not None:
            self.task = self.bar.add_task(name, total=total, unit=unit, rate="")

    def advance(self, count: int = 1, total: float | None = None) -> None:
        self.done += count
        self.total = total if total is not None else self.total
        now = time.monotonic()
        if self.console is None or now - self.last_shown < (BAR_EVERY_S if self.bar else PLAIN_EVERY_S):
            return  # advance may be called per line: the display keeps its own pace
        self.last_shown = now
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.total, rate=self._rate())
        else:
            self._line()

    def counting(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, each one counted as it passes."""
        for item in items:
            self.advance()
            yield item

    def end_stage(self) -> None:
        if self.name is None:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.done, rate=self._rate())
        elif self.lines:
            self._line(final=True)
        self.name = None

    def _rate(self) -> str:
        seconds = time.monotonic() - self.began
        if seconds <= 0:
            return ""
        rate = self.done / seconds
        return f"{rate:,.{0 if rate >= 100 else 1}f} {self.unit}/s"

    def _line(self, final: bool = False) -> None:
        seconds = time.monotonic() - self.began
        self.lines += 1
        parts = [f"{self.name}: {self.done:,} {self.unit}", self._rate()]
        if final:
            parts.append(f"{seconds:.1f} s")
        elif self.total and self.done:
            left = max(self.total - self.done, 0) * seconds / self.done
            parts.append(f"ETA {int(left) // 60}:{int(left) % 60:02d}")
        self.console.print(", ".join(p for p in parts if p), highlight=False)
