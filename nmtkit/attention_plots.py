"""Attention heatmaps: which source pieces each output piece attended to."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmtkit.errors import UsageError
from nmtkit.figures import pyplot, save_png


def prepare_plot_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--attention-plots {path}: cannot create the folder ({exc.strerror})") from None
    return path


def plot_attention(path: Path, weights: np.ndarray, source: list[str], target: list[str]) -> None:
    """A PNG of `weights` [len(target), len(source)], target pieces down, source pieces across."""
    height, width = weights.shape
    figure, axes = pyplot().subplots(figsize=(max(4.0, 0.35 * width + 1.5), max(3.0, 0.3 * height + 1.2)))
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(width), source, rotation=90, fontsize=8)
    axes.set_yticks(range(height), target, fontsize=8)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    save_png(figure, path)
