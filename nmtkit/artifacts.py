"""The model directory: everything `translate` needs, and nothing half-written.

Layout: `recipe.yaml` (the resolved recipe), `tokenizers.json` with any sentencepiece models,
`src.vocab.json`, `tgt.vocab.json` (copied from the prepared data), `model.weights.h5` (the best weights so far),
`manifest.json` (data and training summary), `metrics.jsonl` (one line per validation),
`checkpoints/` (the last training checkpoints, see `nmtkit.checkpoints`) and `tensorboard/`.
The directory appears under its name only once it holds weights; each later save replaces files
by atomic renames, so a crash at any point leaves the previous best model intact.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nmtkit.atomic import replace_dir, staging_dir, write_text_atomic
from nmtkit.config import Recipe, dump_recipe, recipe_from_dict
from nmtkit.data.prepared import MANIFEST, SRC_VOCAB, TGT_VOCAB, load_vocabs, read_manifest
from nmtkit.data.tokenizer import TokenizerPair, load_pair, model_files
from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError

RECIPE = "recipe.yaml"
WEIGHTS = "model.weights.h5"
METRICS = "metrics.jsonl"


class ModelWriter:
    """Stages a model directory beside its target and publishes it at the first save."""

    def __init__(self, target: str | Path, overwrite: bool = False, reopen: bool = False):
        """`reopen`: continue writing a published directory in place (resuming training)."""
        self.target = Path(target)
        if reopen:
            self.dir, self.published = self.target, True
        else:
            self.dir, self.published = staging_dir(self.target, overwrite), False

    def __enter__(self) -> "ModelWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            shutil.rmtree(self.dir, ignore_errors=True)

    def write_static(self, recipe: Recipe, prepared: Path) -> None:
        (self.dir / RECIPE).write_text(dump_recipe(recipe), encoding="utf-8")
        for name in (*model_files(prepared), SRC_VOCAB, TGT_VOCAB):
            shutil.copyfile(prepared / name, self.dir / name)

    def save(self, manifest: dict[str, Any], metrics: list[dict[str, Any]], model=None) -> None:
        """Write the records, and the weights when `model` is given (the first save must)."""
        if model is not None:
            _save_weights(model, self.dir / WEIGHTS)
        elif not self.published:
            raise RuntimeError("the first save of a model directory must include weights")
        write_text_atomic(self.dir / METRICS, "".join(json.dumps(m) + "\n" for m in metrics))
        write_text_atomic(self.dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if not self.published:
            replace_dir(self.dir, self.target)
            self.dir, self.published = self.target, True




def _save_weights(model, path: Path) -> None:
    partial = path.with_name(".partial.weights.h5")  # Keras wants the .weights.h5 suffix
    model.save_weights(partial)
    os.replace(partial, path)


@dataclass
class LoadedModel:
    recipe: Recipe
    tokenizers: TokenizerPair
    src_vocab: Vocab
    tgt_vocab: Vocab
    model: Any  # nmtkit.models.seq2seq.Seq2Seq (imported lazily: TensorFlow is slow to load)


def load_model_dir(path: str | Path, precision: str | None = None) -> LoadedModel:
    """The model directory's recipe, tokenizers, vocabularies and model with its weights.

    `precision` ("auto", "float32" or "bfloat16") is the arithmetic of the model; default: the
    recipe's `translate.precision`.
    """
    path = Path(path)
    read_manifest(path, "model directory")
    if not (path / WEIGHTS).is_file():
        raise ModelDirError(f"{path} is not an nmtkit model directory: no {WEIGHTS}")
    try:
        raw = yaml.safe_load((path / RECIPE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelDirError(f"{path / RECIPE}: unreadable ({exc})") from None
    recipe = recipe_from_dict(raw, source=str(path / RECIPE))
    src_vocab, tgt_vocab = load_vocabs(path)
    tokenizers = load_pair(path)

    from nmtkit.models.seq2seq import build_model
    from nmtkit.precision import dtype_policy

    policy = dtype_policy(precision or recipe.translate.precision)
    model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), policy)
    try:
        model.load_weights(path / WEIGHTS)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelDirError(f"{path / WEIGHTS}: cannot load weights ({exc})") from None
    return LoadedModel(recipe, tokenizers, src_vocab, tgt_vocab, model)
