"""Training checkpoints: everything a run needs to continue exactly where it stopped.

`MODEL_DIR/checkpoints/step-NNNNNNNN/` holds `model.weights.h5` (the weights), `optimizer.npz`
(every optimizer variable: step count, rate, moments), and `state.json` (the data position,
counters, learning-rate schedule, best-so-far and validation history, the dropout generator's
state). Each is written under a temporary name and renamed into place as a whole, so a run
killed at any moment leaves the previous checkpoints intact; only the last K are kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from nmtkit.atomic import atomic_dir
from nmtkit.errors import ModelDirError

CHECKPOINTS = "checkpoints"
WEIGHTS = "model.weights.h5"
OPTIMIZER = "optimizer.npz"
STATE = "state.json"


def checkpoint_dirs(model_dir: str | Path) -> list[Path]:
    """A model directory's complete checkpoints, oldest first."""
    found = sorted((Path(model_dir) / CHECKPOINTS).glob("step-*"))
    return [d for d in found if (d / STATE).is_file()]


def save_checkpoint(model_dir: Path, model, optimizer, state: dict[str, Any], keep: int) -> Path:
    folder = model_dir / CHECKPOINTS
    folder.mkdir(exist_ok=True)
    target = folder / f"step-{state['step']:08d}"
    with atomic_dir(target, overwrite=True) as staging:
        model.save_weights(staging / WEIGHTS)
        np.savez(staging / OPTIMIZER, *[np.asarray(v) for v in optimizer.variables])
        state = {**state, "dropout_noise": model.noise.get_state().tolist()}
        (staging / STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    for old in checkpoint_dirs(model_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(path: Path, model, optimizer) -> dict[str, Any]:
    """Restore `model` and `optimizer` (already built) from `path`; returns the saved state."""
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
