"""`nmtkit plot`: the training curves of a model directory as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from nmtkit.errors import ModelDirError
from nmtkit.figures import pyplot, save_png

METRICS = "metrics.jsonl"


def plot_curves(model_dir: str | Path, output: str | Path | None = None) -> Path:
    """Training and validation loss by step, and validation BLEU / chrF when they were measured
    (otherwise perplexity); written to `output` (default MODEL_DIR/curves.png)."""
    model_dir = Path(model_dir)
    try:
        lines = (model_dir / METRICS).read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        raise ModelDirError(f"{model_dir} is not an nmtkit model directory: no {METRICS}") from None
    except ValueError as exc:
        raise ModelDirError(f"{model_dir / METRICS}: unreadable ({exc})") from None
    if not records:
        raise ModelDirError(f"{model_dir / METRICS} holds no validation yet")
    output = Path(output) if output else model_dir / "curves.png"

    steps = [r["step"] for r in records]
    figure, (losses, scores) = pyplot().subplots(1, 2, figsize=(11, 4))
    for key, label in (("train_loss", "training loss (label-smoothed)"), ("valid_loss", "validation loss")):
        points = [(s, r[key]) for s, r in zip(steps, records) if r.get(key) is not None]
        if points:
            losses.plot(*zip(*points), marker=".", label=label)
    losses.set_xlabel("step")
    losses.set_ylabel("cross-entropy per token")
    losses.legend()
    keys = [k for k in ("valid_bleu", "valid_chrf") if k in records[-1]] or ["valid_ppl"]
    for key in keys:
        scores.plot(steps, [r.get(key) for r in records], marker=".", label=key.replace("valid_", "validation "))
    scores.set_xlabel("step")
    scores.legend()
    figure.suptitle(str(model_dir))
    figure.tight_layout()
    save_png(figure, output)
    return output
