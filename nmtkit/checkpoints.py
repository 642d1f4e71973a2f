"""Training checkpoints: everything a run needs to continue exactly where it stopped.

`MODEL_DIR/checkpoints/step-NNNNNNNN/` holds `model.weights.h5` (the weights), `optimizer.npz`
(every optimizer variable: step count, rate, moments), and `state.json` (the data position,
counters, learning-rate schedule, best-so-far and validation history, the dropout generator's
state), and `checksums.sha256` of the three. Each is written under a temporary name and renamed
into place as a whole, so a run killed at any moment leaves the previous checkpoints intact; only
the last K are kept. Resuming takes the newest checkpoint whose checksums hold.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from nmtkit.atomic import atomic_dir
from nmtkit.checksums import verify_checksums, write_checksums
from nmtkit.errors import ModelDirError

CHECKPOINTS = "checkpoints"
WEIGHTS = "model.weights.h5"
OPTIMIZER = "optimizer.npz"
STATE = "state.json"


def checkpoint_dirs(model_dir: str | Path) -> list[Path]:
    """A model directory's complete checkpoints, oldest first."""
    found = sorted((Path(model_dir) / CHECKPOINTS).glob("step-*"))
    return [d for d in found if (d / STATE).is_file()]


def checkpoint_path(model_dir: Path, step: int) -> Path:
    return model_dir / CHECKPOINTS / f"step-{step:08d}"


def save_checkpoint(model_dir: Path, model, optimizer, state: dict[str, Any], keep: int) -> Path:
    target = checkpoint_path(model_dir, state["step"])
    target.parent.mkdir(exist_ok=True)
    with atomic_dir(target, overwrite=True) as staging:
        model.save_weights(staging / WEIGHTS)
        # The variables themselves: savez copies out one at a time as it writes (a list of
        # arrays would hold a copy of every slot at once, 60 MiB more at the reference recipe).
        np.savez(staging / OPTIMIZER, *optimizer.variables)
        state = {**state, "dropout_noise": model.noise.get_state().tolist()}
        (staging / STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        write_checksums(staging, (WEIGHTS, OPTIMIZER, STATE))
    for old in checkpoint_dirs(model_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(path: Path, model, optimizer) -> dict[str, Any]:
    """Restore `model` and `optimizer` (already built) from `path`, a checkpoint whose checksums
    were verified (`latest_intact_checkpoint`); returns the saved state."""
    try:
        state = json.loads((path / STATE).read_text(encoding="utf-8"))
        model.load_weights(path / WEIGHTS)
        with np.load(path / OPTIMIZER) as arrays:
            values = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelDirError(f"{path}: cannot restore the checkpoint ({exc})") from None
    if len(values) != len(optimizer.variables):
        raise ModelDirError(f"{path}: the checkpoint's optimizer does not match train.optimizer")
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)
    model.noise.set_state(np.array(state["dropout_noise"], dtype=np.int64))
    return state


def latest_intact_checkpoint(model_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files match their checksums, and a note for each newer one
    skipped because they do not."""
    skipped = []
    for path in reversed(checkpoint_dirs(model_dir)):
        try:
            verify_checksums(path)
        except ModelDirError as exc:
            skipped.append(f"skipped checkpoint {path.name}: {exc}")
            continue
        return path, skipped
    return None, skipped
