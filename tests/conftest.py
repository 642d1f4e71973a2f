"""Shared fixtures: tiny generated corpora and recipes, so no test downloads anything; only the
word-level round trip reads Multi30k lines from ../shared (skipped where it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from nmtkit.data.corpora import make_dates  # noqa: E402

TINY_MODEL = {"embedding_dim": 32, "encoder_units": 32, "decoder_units": 64, "dropout": 0.0}


def write_recipe(path: Path, root: Path, work: Path, **sections) -> Path:
    """A dates-task recipe under `work`, with `sections` merged over the defaults."""
    recipe = {
        "data": {"root": str(root), "src_lang": "txt", "tgt_lang": "iso", "train": "train",
                 "valid": "val", "prepared": str(work / "data")},
        "vocab": {"size": 120},
        "model": dict(TINY_MODEL),
        "train": {"model_dir": str(work / "model"), "epochs": 1, "batch_size": 32,
                  "learning_rate": 0.005},
        "translate": {"beam_size": 3, "max_length": 16},
    }
    for section, values in sections.items():
        recipe.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dates_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dates") / "corpus"
    make_dates(root, sizes=(4000, 200, 200), seed=3)
    return root


@pytest.fixture
def tiny_recipe(tmp_path, dates_dir) -> Path:
    return write_recipe(tmp_path / "recipe.yaml", dates_dir, tmp_path / "run")


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, dates_dir) -> Path:
    """A tiny dates model trained for a few seconds (shared by the translate tests)."""
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess
    from nmtkit.training import train

    work = tmp_path_factory.mktemp("trained")
    recipe = load_recipe(write_recipe(work / "recipe.yaml", dates_dir, work,
                                      train={"epochs": 4}))
    preprocess(recipe)
    train(recipe)
    return Path(recipe.train.model_dir)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
