"""What an NTM does with its memory on one example: the heads' weightings at every step, and
the picture of them that Graves et al. show for the copy task (section 4.1, figure 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from nmtkit.data.algorithmic import Batch
from nmtkit.errors import UsageError
from nmtkit.figures import pyplot, save_png


def trace_heads(model, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the model's NTM cell step by step on inputs [1, time, in].

    Returns (output probabilities [time, out], read weightings [time, read_heads, N],
    write weightings [time, write_heads, N]).
    """
    try:
        cell = model.get_layer("ntm").cell
    except ValueError:
        raise UsageError("the model has no NTM: head weightings exist only for model.type ntm") from None
    output_layer = model.get_layer("output")
    states = cell.get_initial_state(batch_size=1)
    probabilities, weightings = [], []
    for t in range(inputs.shape[1]):
        out, states = cell(tf.constant(inputs[:, t]), states)
        probabilities.append(tf.sigmoid(output_layer(out))[0].numpy())
        weightings.append(tf.reshape(states[-1], (cell.heads, cell.memory_size)).numpy())
    weightings = np.stack(weightings)
    return np.stack(probabilities), weightings[:, : cell.read_heads], weightings[:, cell.read_heads:]


def plot_heads(path: str | Path, batch: Batch, probabilities: np.ndarray, reads: np.ndarray,
               writes: np.ndarray) -> Path:
    """Inputs, targets and outputs over time above the write and read weightings (first head
    of each, memory rows the heads touched), as a PNG."""
    used = np.flatnonzero((np.concatenate([reads[:, 0], writes[:, 0]]) > 0.01).any(axis=0))
    rows = slice(max(used.min() - 2, 0), used.max() + 3) if used.size else slice(None)
    figure, axes = pyplot().subplots(2, 3, figsize=(13, 7), gridspec_kw={"height_ratios": [1, 2.5]})
    panels = [(batch.inputs[0].T, "inputs"), (batch.targets[0].T * batch.mask[0], "targets"),
              (probabilities.T * batch.mask[0], "outputs"), (writes[:, 0, rows].T, "write weighting"),
              (reads[:, 0, rows].T, "read weighting")]
    for ax, (image, title) in zip(axes.flat, panels):
        ax.imshow(image, aspect="auto", cmap="gray_r", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("time step")
    for ax in axes[1, :2]:
        ax.set_ylabel(f"memory row (from {rows.start or 0})")
    axes[1, 2].axis("off")
    figure.tight_layout()
    save_png(figure, Path(path))
    return Path(path)
