"""Training progress on stderr: a live rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


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
