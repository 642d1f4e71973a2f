"""Recipes of the algorithmic tasks (copy, repeat copy, associative recall): a `task` section
instead of `data`, a model section of its own (ntm | lstm | attention) and a shorter `train`.
`nmtkit train` tells the two kinds of recipe apart by that `task` section."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from nmtkit.config import bounded, build_section
from nmtkit.errors import RecipeError


@dataclass
class TaskConfig:
    name: Literal["copy", "repeat_copy", "associative_recall"] = "copy"
    bits: int = bounded(8, min=1)  # width of the random vectors
    min_length: int = bounded(1, min=1)  # training lengths (associative_recall: items, >= 2)
    max_length: int = bounded(20, min=1)
    min_repeats: int = bounded(1, min=1)  # repeat_copy
    max_repeats: int = bounded(10, min=1)
    item_length: int = bounded(3, min=1)  # associative_recall: vectors per item


@dataclass
class TaskModelConfig:
    type: Literal["ntm", "lstm", "attention"] = "ntm"
    units: int = bounded(100, min=1)  # NTM controller, LSTM or attention model units
    layers: int = bounded(1, min=1)  # lstm: stacked layers
    controller: Literal["lstm", "feedforward"] = "lstm"  # ntm
    memory_size: int = bounded(128, min=1)  # ntm: memory rows N
    memory_width: int = bounded(20, min=1)  # ntm: numbers per row M
    read_heads: int = bounded(1, min=1)
    write_heads: int = bounded(1, min=1)
    shift_range: int = bounded(1, min=1)  # ntm: a head's focus moves at most this many rows per step
    keep_place: bool = True  # ntm: heads start biased to stay where they are (false: zero biases)


@dataclass
class TaskTrainConfig:
    model_dir: str = "runs/task"
    sequences: int = bounded(100_000, min=1)  # training sequences in all
    batch_size: int = bounded(16, min=1)  # sequences per batch (one length per batch)
    optimizer: Literal["adam", "rmsprop"] = "adam"
    learning_rate: float = bounded(1e-3, min=0.0)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: down to 0 at train.sequences
    clip_norm: float = bounded(10.0, min=0.0)  # global gradient-norm clip; 0 = off
    log_every: int = bounded(2_000, min=1)  # sequences between metrics.jsonl records
    max_minutes: float = bounded(0.0, min=0.0)  # wall-clock budget; 0 = none
    seed: int = 1


@dataclass
class TaskRecipe:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: TaskModelConfig = field(default_factory=TaskModelConfig)
    train: TaskTrainConfig = field(default_factory=TaskTrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def is_task_recipe(raw: dict[str, Any]) -> bool:
    return "task" in raw


def task_recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> TaskRecipe:
    recipe = build_section(TaskRecipe, raw, prefix="", source=source)
    task = recipe.task
    shortest = 2 if task.name == "associative_recall" else 1
    if task.min_length < shortest or task.min_length > task.max_length:
        raise RecipeError(f"{source}: task lengths must satisfy {shortest} <= task.min_length <= "
                          f"task.max_length, got {task.min_length} and {task.max_length}")
    if task.min_repeats > task.max_repeats:
        raise RecipeError(f"{source}: task.min_repeats ({task.min_repeats}) exceeds task.max_repeats "
                          f"({task.max_repeats})")
    return recipe


def dump_task_recipe(recipe: TaskRecipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False)
