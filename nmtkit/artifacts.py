"""The model directory: everything `translate` needs, and nothing half-written.

Layout: `recipe.yaml` (the resolved recipe), `tokenizers.json` with any sentencepiece models,
`src.vocab.json`, `tgt.vocab.json` (copied from the prepared data), `model.weights.h5` (the best weights so far),
`manifest.json` (data and training summary), `metrics.jsonl` (one line per validation),
`checkpoints/` (the last training checkpoints, see `nmtkit.checkpoints`), `tensorboard/`, and
`compiled/`, the search graphs that `translate` keeps (see `nmtkit.compiled_search`).
`checksums.sha256` records the digests of the files that make the model (all but the records
manifest.json and metrics.jsonl), and `load_model_dir` checks them.
The directory appears under its name only once it holds weights; each later save replaces files
by atomic renames, so a crash at any point leaves the previous best model intact, and a reader
that loads while a new best model is published gets the old model or the new one, never a mix.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from nmtkit.atomic import atomic_file, discard, replace_dir, staging_dir, write_text_atomic
from nmtkit.checksums import (CHECKSUMS, damaged, file_digest, format_checksums, read_checksums, stream_digest,
                              verify_checksums)
from nmtkit.config import Recipe, dump_recipe, read_yaml_file, recipe_from_dict
from nmtkit.data.prepared import MANIFEST, SRC_VOCAB, TGT_VOCAB, load_vocabs, read_manifest
from nmtkit.data.tokenizer import TokenizerPair, load_pair, model_files
from nmtkit.data.vocab import Vocab
from nmtkit.errors import ModelDirError, RecipeError, one_line

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
            self.digests = {name: file_digest(self.dir / name) for name in _model_files(self.dir)}
        else:
            self.dir, self.published = staging_dir(self.target, overwrite), False
            self.digests = {}

    def __enter__(self) -> "ModelWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            discard(self.dir)

    def write_static(self, recipe: Recipe, prepared: Path) -> None:
        (self.dir / RECIPE).write_text(dump_recipe(recipe), encoding="utf-8")
        for name in (*model_files(prepared), SRC_VOCAB, TGT_VOCAB):
            shutil.copyfile(prepared / name, self.dir / name)
        self.digests = {name: file_digest(self.dir / name) for name in _model_files(self.dir)}

    def save(self, manifest: dict[str, Any], metrics: list[dict[str, Any]], model=None) -> None:
        """Write the records, and the weights when `model` is given (the first save must)."""
        if model is not None:
            self._save_weights(model)
        elif not self.published:
            raise RuntimeError("the first save of a model directory must include weights")
        write_text_atomic(self.dir / METRICS, "".join(json.dumps(m) + "\n" for m in metrics))
        write_text_atomic(self.dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if not self.published:
            replace_dir(self.dir, self.target)
            self.dir, self.published = self.target, True

    def _save_weights(self, model) -> None:
        """The new weights and their checksum, both written in full first, then renamed into
        place one right after the other (readers retry over that gap: `load_model_dir`)."""
        with atomic_file(self.dir / CHECKSUMS) as checksums:
            with atomic_file(self.dir / WEIGHTS) as weights:
                model.save_weights(weights)
                self.digests[WEIGHTS] = file_digest(weights)
                checksums.write_text(format_checksums(self.digests), encoding="utf-8")


def _model_files(directory: Path) -> list[str]:
    """The files of a model directory that do not change while it trains."""
    return [RECIPE, *model_files(directory), SRC_VOCAB, TGT_VOCAB]


@dataclass
class LoadedModel:
    path: Path
    recipe: Recipe
    tokenizers: TokenizerPair
    src_vocab: Vocab
    tgt_vocab: Vocab
    policy: str  # the Keras dtype policy the model computes in
    weights_digest: str | None = None  # the checksum of the weights `.model` loaded

    @functools.cached_property
    def model(self):
        """The Keras model (nmtkit.models.seq2seq.Seq2Seq) with its weights, built at the first
        use: a translation that loads its compiled search (nmtkit.compiled_search) needs none."""
        from nmtkit.models.seq2seq import build_model

        model = build_model(self.recipe.model, len(self.src_vocab), len(self.tgt_vocab), self.policy)
        self.weights_digest = load_published_weights(self.path, model)
        return model

    def recorded_weights_digest(self) -> str | None:
        """The checksum recorded for the weights (None in a directory without checksums)."""
        return (read_checksums(self.path) or {}).get(WEIGHTS)

    def weights_are(self, digest: str) -> bool:
        """Whether the weights file has this checksum."""
        return file_digest(self.path / WEIGHTS) == digest


def load_model_dir(path: str | Path, precision: str | None = None) -> LoadedModel:
    """The model directory's recipe, tokenizers and vocabularies, each file checked against the
    directory's checksums, and its model (built with its weights at the first use of `.model`).

    `precision` ("auto", "float32" or "bfloat16") is the arithmetic of the model; default: the
    recipe's `translate.precision`.
    """
    path = Path(path)
    read_manifest(path, "model directory")
    if not (path / WEIGHTS).is_file():
        raise ModelDirError(f"{path} is not an nmtkit model directory: no {WEIGHTS}")
    verify_checksums(path, skip=(WEIGHTS,))  # the weights: in load_published_weights
    raw = read_yaml_file(path / RECIPE, ModelDirError, "model recipe")
    try:
        recipe = recipe_from_dict(raw, source=str(path / RECIPE))
    except RecipeError as exc:  # in a model directory, a damaged model directory
        raise ModelDirError(str(exc)) from None
    src_vocab, tgt_vocab = load_vocabs(path)
    tokenizers = load_pair(path)

    from nmtkit.precision import inference_policy

    return LoadedModel(path, recipe, tokenizers, src_vocab, tgt_vocab,
                       inference_policy(precision or recipe.translate.precision))


PUBLISH_GAP_S = 0.2  # far longer than a trainer takes between renaming the weights and their checksum


def load_published_weights(path: Path, model) -> str | None:
    """Load `path/model.weights.h5` into `model` after checking it against its recorded checksum,
    while a trainer may be publishing new weights: a file that changes under the reader (a new
    inode, or a new checksum) is read again, so the model loaded is one whole published model.
    Returns the checksum of the weights loaded (None where none is recorded)."""
    while True:
        expected = (read_checksums(path) or {}).get(WEIGHTS)
        with open(path / WEIGHTS, "rb") as handle:
            inode = os.fstat(handle.fileno()).st_ino
            intact = expected is None or stream_digest(handle) == expected
        if intact:
            try:
                model.load_weights(path / WEIGHTS)
            except (OSError, ValueError, KeyError) as exc:
                if os.stat(path / WEIGHTS).st_ino == inode:
                    raise ModelDirError(f"{path / WEIGHTS}: cannot load weights into the model that "
                                        f"{RECIPE} and the vocabularies describe ({one_line(exc)})") from None
                continue  # replaced while loading
            if os.stat(path / WEIGHTS).st_ino == inode:
                return expected
            continue
        time.sleep(PUBLISH_GAP_S)
        if (read_checksums(path) or {}).get(WEIGHTS) == expected and os.stat(path / WEIGHTS).st_ino == inode:
            raise damaged(path / WEIGHTS)
