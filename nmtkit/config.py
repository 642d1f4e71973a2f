"""Recipes: YAML files parsed into typed, validated dataclasses.

A recipe has one section per concern (data, vocab, model, train, translate). Unknown keys and
bad values are rejected with a one-line error naming the key, and any key can be overridden from
the command line as `section.key=value` (the value is read as YAML, so `3`, `0.5`, `true` work).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from nmtkit.errors import RecipeError


def _opt(default: Any, *, min: float | None = None, max: float | None = None) -> Any:
    """A recipe field with an inclusive numeric range checked on load."""
    return field(default=default, metadata={"min": min, "max": max})


@dataclass
class DataConfig:
    root: str = "."  # folder the corpus prefixes are relative to (itself relative to the cwd)
    src_lang: str = "de"
    tgt_lang: str = "en"
    train: str = "train"  # corpus prefix: reads {root}/{train}.{lang} or .{lang}.gz
    valid: str = "val"
    prepared: str = "runs/prepared"  # where `preprocess` writes and `train` reads


@dataclass
class VocabConfig:
    type: Literal["bpe", "unigram"] = "bpe"
    size: int = _opt(8000, min=8)
    character_coverage: float = _opt(1.0, min=0.9, max=1.0)
    max_length: int = _opt(0, min=0)  # drop training pairs longer than this (tokens); 0 keeps all


@dataclass
class ModelConfig:
    embedding_dim: int = _opt(256, min=1)
    encoder_units: int = _opt(256, min=1)  # per direction of the bidirectional LSTM
    decoder_units: int = _opt(512, min=1)  # must be 2 x encoder_units: the bridge copies states
    dropout: float = _opt(0.3, min=0.0, max=0.95)
    init_range: float = _opt(0.1, min=0.0)  # weights start uniform in [-init_range, init_range]


@dataclass
class TrainConfig:
    model_dir: str = "runs/model"
    batch_size: int = _opt(64, min=1)
    epochs: int = _opt(10, min=1)
    max_minutes: float = _opt(0.0, min=0.0)  # wall-clock budget of the whole command; 0 = none
    learning_rate: float = _opt(1e-3, min=0.0)
    label_smoothing: float = _opt(0.1, min=0.0, max=0.99)
    clip_norm: float = _opt(5.0, min=0.0)  # global gradient-norm clip; 0 disables it
    valid_every: int = _opt(0, min=0)  # steps between validations; 0 = at each epoch end
    precision: Literal["float32", "mixed_bfloat16"] = "float32"
    seed: int = 1234


@dataclass
class TranslateConfig:
    beam_size: int = _opt(5, min=1)  # 1 = greedy search
    batch_size: int = _opt(64, min=1)
    max_length: int = _opt(100, min=1)  # longest output, in target tokens


@dataclass
class Recipe:
    data: DataConfig = field(default_factory=DataConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read a recipe file, apply `section.key=value` overrides, and validate the result."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe file {path}: {exc}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RecipeError(f"{path}{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections (data, model, ...)")
    for override in overrides:
        _apply_override(raw, override)
    return recipe_from_dict(raw, source=str(path))


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    recipe = _build(Recipe, raw, prefix="", source=source)
    _check_model_shapes(recipe.model, source)
    return recipe


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, value = override.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise RecipeError(f"--set {override!r}: expected section.key=value, e.g. train.epochs=3")
    section, name = parts
    if not isinstance(raw.setdefault(section, {}), dict):
        raise RecipeError(f"recipe section {section!r} must be a mapping")
    try:
        raw[section][name] = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        raw[section][name] = value


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    where = prefix.rstrip(".") or "recipe"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: {where} must be a mapping of keys, not {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise RecipeError(
            f"{source}: unknown key {prefix}{unknown[0]} (valid keys: {', '.join(fields)})"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{key}.", source)
        else:
            values[name] = _check_value(key, hint, fields[name].metadata, value, source)
    return cls(**values)


def _check_value(key: str, hint: Any, meta: Any, value: Any, source: str) -> Any:
    def bad(expected: str) -> RecipeError:
        return RecipeError(f"{source}: {key} must be {expected}, got {value!r}")

    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise bad("one of " + ", ".join(map(str, choices)))
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str) or not value:
            raise bad("a non-empty string")
        return value
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise bad(f">= {low}")
    if high is not None and value > high:
        raise bad(f"<= {high}")
    return value


def _check_model_shapes(model: ModelConfig, source: str) -> None:
    """Cross-key rule: the decoder starts from the concatenated encoder states."""
    if model.decoder_units != 2 * model.encoder_units:
        raise RecipeError(
            f"{source}: model.decoder_units ({model.decoder_units}) must be twice "
            f"model.encoder_units ({model.encoder_units}): the decoder starts from both "
            "encoder directions' final states"
        )


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False)
