"""PNG figures: matplotlib without a display, each file written whole or not at all."""

from __future__ import annotations

from pathlib import Path

from nmtkit.atomic import atomic_file
from nmtkit.errors import NmtkitError, UsageError


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it is slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path: Path, error: type[NmtkitError] = UsageError, dpi: int = 100) -> None:
    """Write `figure` to `path` under a temporary name, rename it into place, and close it; a
    failure is `error` naming the path."""
    try:
        with atomic_file(path) as tmp:
            figure.savefig(tmp, dpi=dpi, format="png")
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        pyplot().close(figure)
