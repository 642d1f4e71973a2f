"""Recipes: YAML files parsed into typed, validated dataclasses.

A recipe has one section per concern (data, vocab, model, train, translate). Unknown keys and
bad values are rejected with a one-line error naming the key, and any key can be overridden from
the command line as `section.key=value` (the value is read as YAML, so `3`, `0.5`, `true` work).
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from nmtkit.errors import NmtkitError, RecipeError

# Values and overrides are quoted in errors cut short: a megabyte-long value still gives one line.
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80


class _Loader(yaml.SafeLoader):
    """`yaml.safe_load`'s loader, except that a scalar YAML reads but cannot build (the date
    2021-13-45, `!!int x`, an empty `!!int`) is a YAML error at its line, not the ValueError or
    IndexError PyYAML's constructors raise."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, LookupError, TypeError, ArithmeticError) as exc:
            problem = str(exc) or type(exc).__name__
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def parse_yaml(text: str) -> Any:
    """`text` as YAML (safe types only); malformed YAML, however it fails, is a `yaml.YAMLError`,
    or a RecursionError for nesting deeper than Python's stack."""
    return yaml.load(text, Loader=_Loader)


def bounded(default: Any, *, min: float | None = None, max: float | None = None) -> Any:
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


Level = Literal["char", "word", "whitespace", "bpe", "unigram"]


@dataclass
class VocabConfig:
    type: Level = "bpe"  # the unit of translation on both sides, unless src_type / tgt_type say
    src_type: Literal["same", "char", "word", "whitespace", "bpe", "unigram"] = "same"
    tgt_type: Literal["same", "char", "word", "whitespace", "bpe", "unigram"] = "same"
    size: int = bounded(8000, min=0)  # bpe/unigram: pieces of the model (>= 8); else most entries; 0 = all
    min_freq: int = bounded(1, min=1)  # char/word/whitespace: rarer tokens become <unk>
    character_coverage: float = bounded(1.0, min=0.9, max=1.0)  # bpe/unigram
    byte_fallback: bool = False  # bpe/unigram: unseen characters as UTF-8 byte pieces, not <unk>
    input_sentence_size: int = bounded(200_000, min=1)  # bpe/unigram: sentences sampled to train on
    lowercase: bool = False
    normalize: Literal["nfkc", "none"] = "nfkc"  # Unicode NFKC (sentencepiece: its nmt_nfkc rules)
    joint: bool = False  # one vocabulary for both sides (model.share_embeddings needs it)
    subword_model: Literal["joint", "separate"] = "joint"  # one sentencepiece model for both sides

    @property
    def src_level(self) -> str:
        return self.type if self.src_type == "same" else self.src_type

    @property
    def tgt_level(self) -> str:
        return self.type if self.tgt_type == "same" else self.tgt_type


@dataclass
class CleanConfig:
    """Which training pairs `preprocess` keeps; every dropped pair is counted in the manifest."""

    strip: bool = True  # strip surrounding whitespace (pairs with an empty side are always dropped)
    max_src_length: int = bounded(0, min=0)  # most source tokens; 0 = no limit
    max_tgt_length: int = bounded(0, min=0)  # most target tokens; 0 = no limit
    max_length_ratio: float = bounded(0.0, min=0.0)  # longer side at most ratio x the shorter; 0 = off


@dataclass
class EmbeddingsConfig:
    """Initial source/target embeddings: pretrained vectors, or vectors trained on the corpus."""

    src: str = field(default="", metadata={"may_be_empty": True})  # vectors file ("" = none)
    tgt: str = field(default="", metadata={"may_be_empty": True})
    format: Literal["auto", "word2vec", "word2vec_binary", "glove", "fasttext"] = "auto"
    case_insensitive: bool = False  # look up the lowercased token when the exact one is missing
    train: Literal["none", "word2vec", "fasttext"] = "none"  # for sides without a file
    epochs: int = bounded(5, min=1)  # training passes of word2vec / fasttext
    window: int = bounded(5, min=1)  # context window of word2vec / fasttext
    freeze: bool = False  # keep the initial embeddings fixed during training

    def wanted(self, side: str) -> bool:
        return bool(getattr(self, side)) or self.train != "none"


@dataclass
class ModelConfig:
    type: Literal["rnn", "ntm"] = "rnn"  # ntm: the decoder's recurrence is a Neural Turing Machine
    embedding_dim: int = bounded(256, min=1)  # source and target embeddings (not shared)
    encoder_cell: Literal["lstm", "gru", "rnn"] = "lstm"  # rnn: the plain (Elman) recurrence
    encoder_bidirectional: bool = True
    encoder_units: int = bounded(256, min=1)  # per direction
    encoder_layers: int = bounded(1, min=1)
    encoder_residual: bool = False  # add each layer's input to its output, from layer 2 on
    bridge: Literal["copy", "dense", "zero"] = "copy"  # decoder's initial state from the encoder's
    decoder_cell: Literal["lstm", "gru", "rnn"] = "lstm"
    decoder_units: int = bounded(512, min=1)
    decoder_layers: int = bounded(1, min=1)
    attention: Literal["luong_general", "luong_dot", "luong_concat", "bahdanau", "none"] = "luong_general"
    input_feeding: bool = True  # feed the previous attentional output into the decoder RNN
    attention_dropout: float = bounded(0.0, min=0.0, max=0.95)  # on the attention weights
    tie_embeddings: bool = False  # output projection = target embeddings (needs decoder_units == embedding_dim)
    share_embeddings: bool = False  # source and target embeddings are one table (needs vocab.joint)
    dropout: float = bounded(0.3, min=0.0, max=0.95)  # embeddings, between layers, attentional output
    init_range: float = bounded(0.1, min=0.0)  # weights start uniform in [-init_range, init_range]
    memory_size: int = bounded(128, min=1)  # ntm: memory rows N
    memory_width: int = bounded(64, min=1)  # ntm: numbers per row M

    @property
    def encoder_output_dim(self) -> int:
        return self.encoder_units * (2 if self.encoder_bidirectional else 1)


@dataclass
class TrainConfig:
    model_dir: str = "runs/model"
    batch_size: int = bounded(64, min=1)  # sentences per batch (when batch_tokens is 0)
    batch_tokens: int = bounded(0, min=0)  # > 0: batches of at most this many padded tokens instead
    epochs: int = bounded(10, min=1)
    max_minutes: float = bounded(0.0, min=0.0)  # wall-clock budget of the whole command; 0 = none
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: float = bounded(1e-3, min=0.0)  # the peak rate of the schedule
    lr_schedule: Literal["constant", "exponential", "plateau", "inverse_sqrt"] = "constant"
    warmup_steps: int = bounded(0, min=0)  # linear warm-up from 0 (inverse_sqrt needs it)
    decay_rate: float = bounded(0.5, min=0.0, max=1.0)  # exponential: per decay_steps; plateau: per plateau
    decay_steps: int = bounded(1000, min=1)  # exponential schedule's period
    plateau_patience: int = bounded(1, min=1)  # plateau: validations without improvement before decaying
    min_learning_rate: float = bounded(0.0, min=0.0)  # no schedule goes below this
    weight_decay: float = bounded(0.0, min=0.0)  # decoupled weight decay (adamw's; any optimizer)
    momentum: float = bounded(0.0, min=0.0, max=1.0)  # sgd and rmsprop
    label_smoothing: float = bounded(0.1, min=0.0, max=0.99)
    clip_norm: float = bounded(5.0, min=0.0)  # global gradient-norm clip; 0 disables it
    clip_value: float = bounded(0.0, min=0.0)  # clip each gradient element instead; 0 disables it
    valid_every: int = bounded(0, min=0)  # steps between validations; 0 = at each epoch end
    valid_metric: Literal["loss", "bleu", "chrf"] = "loss"  # picks the best model; early stopping
    patience: int = bounded(0, min=0)  # stop after this many validations without improvement; 0 = never
    checkpoint_every: int = bounded(0, min=0)  # steps between checkpoints (also at validations, epoch ends)
    keep_checkpoints: int = bounded(1, min=1)  # training checkpoints kept (resume; nmtkit average)
    # auto: mixed_bfloat16 where the hardware computes bfloat16 natively, else float32
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    device: Literal["auto", "cpu", "gpu"] = "auto"  # auto: every visible GPU, else the CPU
    seed: int = 1234


@dataclass
class TranslateConfig:
    beam_size: int = bounded(5, min=1)  # 1 = greedy search
    # 48, with two batches searched at once (nmtkit.translate.SEARCHES_IN_FLIGHT): within a few
    # percent of 64's beam-5 speed on 2 cores, for 10 MiB less peak memory (docs/results.md)
    batch_size: int = bounded(48, min=1)  # sentences per search batch
    max_length: int = bounded(100, min=1)  # most output tokens before the end of sentence
    max_length_ratio: float = bounded(0.0, min=0.0)  # also at most ratio x source tokens; 0 = off
    min_length: int = bounded(0, min=0)  # fewest output tokens before the end of sentence
    length_penalty: float = bounded(0.0, min=0.0)  # GNMT alpha: rank by log P / lp(length); 0 = off
    coverage_penalty: float = bounded(0.0, min=0.0)  # GNMT beta: reward attending every source token
    block_ngram_repeat: int = bounded(0, min=0)  # n > 0: no n-gram twice in an output; 0 = off
    replace_unk: bool = False  # replace <unk> outputs by the most-attended source piece
    # bfloat16: faster where native, slightly less exact; auto: bfloat16 where native, else float32
    precision: Literal["auto", "float32", "bfloat16"] = "float32"


@dataclass
class Recipe:
    data: DataConfig = field(default_factory=DataConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read a recipe file, apply `section.key=value` overrides, and validate the result."""
    return recipe_from_dict(read_recipe(path, overrides), source=str(path))


def read_recipe(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """A recipe file's sections as a mapping, `section.key=value` overrides applied."""
    path = Path(path)
    raw = read_yaml_file(path) or {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections (data, model, ...)")
    for override in overrides:
        _apply_override(raw, override)
    return raw


def read_yaml_file(path: Path, error: type[NmtkitError] = RecipeError, what: str = "recipe file") -> Any:
    """The YAML document in `path`; a file that is missing, unreadable, not UTF-8 or not YAML is
    `error`, one line naming the file and, where known, the line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path} line {line}: invalid UTF-8") from None
    try:
        return parse_yaml(text)
    except yaml.reader.ReaderError as exc:  # a control character: it has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        raise error(f"{path} line {line}: character #x{exc.character:04x} is not allowed in YAML") from None
    except yaml.YAMLError as exc:  # its str() spans lines: the problem and its line only
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise error(f"{path}{where}: {problem}") from None
    except RecursionError:
        raise error(f"{path}: nested too deeply to be a {what}") from None


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    recipe = build_section(Recipe, raw, prefix="", source=source)
    _check_model_shapes(recipe.model, source)
    _check_vocab(recipe, source)
    _check_training(recipe.train, source)
    return recipe


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, value = override.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise RecipeError(f"--set {_SHOWN.repr(override)}: expected section.key=value, e.g. train.epochs=3")
    section, name = parts
    if raw.get(section) is None:  # absent, or a section written as `train:` with nothing under it
        raw[section] = {}
    if not isinstance(raw[section], dict):
        raise RecipeError(f"--set {_SHOWN.repr(override)}: recipe section {section!r} must be a mapping")
    try:
        raw[section][name] = parse_yaml(value) if value.strip() else ""
    except (yaml.YAMLError, RecursionError):  # not YAML: the text itself (then checked as any value)
        raw[section][name] = value


def build_section(cls: type, raw: Any, prefix: str, source: str) -> Any:
    """`raw` checked against the dataclass `cls` (keys, types, ranges) and built into one."""
    where = prefix.rstrip(".") or "recipe"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: {where} must be a mapping of keys, not {_SHOWN.repr(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # YAML keys may be numbers, booleans or null, or hold line breaks: sorted and shown as text.
    unknown = sorted((key for key in raw if key not in fields), key=str)
    if unknown:
        shown = unknown[0] if isinstance(unknown[0], str) and unknown[0].isprintable() else repr(unknown[0])
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise RecipeError(f"{source}: unknown key {prefix}{shown} (valid keys: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = build_section(hint, value, f"{key}.", source)
        else:
            values[name] = _check_value(key, hint, fields[name].metadata, value, source)
    return cls(**values)


def _check_value(key: str, hint: Any, meta: Any, value: Any, source: str) -> Any:
    def bad(expected: str) -> RecipeError:
        return RecipeError(f"{source}: {key} must be {expected}, got {_SHOWN.repr(value)}")

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
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
        # .nan passes every range check and .inf most: neither is a setting (a NaN rate trains nothing).
        if not math.isfinite(number):
            raise bad("a finite number")
        value = number
    elif hint is str:
        if not isinstance(value, str) or not (value or meta.get("may_be_empty")):
            raise bad("a non-empty string")
        return value
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise bad(f">= {low}")
    if high is not None and value > high:
        raise bad(f"<= {high}")
    return value


def _check_training(train: TrainConfig, source: str) -> None:
    if train.clip_norm and train.clip_value:
        raise RecipeError(f"{source}: train.clip_norm and train.clip_value exclude each other "
                          "(set one of them to 0)")
    if train.lr_schedule == "inverse_sqrt" and not train.warmup_steps:
        raise RecipeError(f"{source}: train.lr_schedule inverse_sqrt needs train.warmup_steps > 0")


def _check_vocab(recipe: Recipe, source: str) -> None:
    vocab = recipe.vocab
    subword = [level for level in (vocab.src_level, vocab.tgt_level) if level in ("bpe", "unigram")]
    if subword and vocab.size < 8:
        raise RecipeError(f"{source}: vocab.size must be >= 8 for a {subword[0]} model, got {vocab.size}")
    if recipe.model.share_embeddings and not vocab.joint:
        raise RecipeError(f"{source}: model.share_embeddings needs one vocabulary for both sides "
                          "(vocab.joint: true)")


def _check_model_shapes(model: ModelConfig, source: str) -> None:
    """Cross-key rules: the combinations a model cannot be built with, named by their keys."""
    def bad(message: str) -> RecipeError:
        return RecipeError(f"{source}: {message}")

    enc = model.encoder_output_dim
    if model.bridge == "copy" and model.decoder_units != enc:
        raise bad(f"model.bridge copy needs model.decoder_units ({model.decoder_units}) equal to the "
                  f"encoder's output size ({enc}: encoder_units x 2 directions when bidirectional); "
                  "use model.bridge=dense to map between them")
    if model.attention == "luong_dot" and model.decoder_units != enc:
        raise bad(f"model.attention luong_dot compares decoder states ({model.decoder_units}) with "
                  f"encoder outputs ({enc}) directly: the sizes must be equal")
    if model.attention == "none" and model.input_feeding:
        raise bad("model.input_feeding feeds the attentional output back: it needs attention "
                  "(set model.input_feeding=false with model.attention=none)")
    if model.type == "ntm" and (model.decoder_cell != "lstm" or model.decoder_layers != 1):
        raise bad("model.type ntm has one NTM with an LSTM controller as its decoder: it needs "
                  "model.decoder_cell=lstm and model.decoder_layers=1")
    if model.tie_embeddings and model.decoder_units != model.embedding_dim:
        raise bad(f"model.tie_embeddings needs model.decoder_units ({model.decoder_units}) equal to "
                  f"model.embedding_dim ({model.embedding_dim})")


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False)
