"""Redirect the process's file descriptor 2, where native libraries write their logs.

TensorFlow's C++ start-up lines and sentencepiece's trainer log go straight to fd 2, past
`sys.stderr`, so neither `contextlib.redirect_stderr` nor their own options keep them off a
user's terminal. Redirecting the descriptor does, and works whatever `sys.stderr` is.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def native_stderr_to(path: str | Path = os.devnull) -> Iterator[None]:
    """Send everything written to fd 2 inside the block to `path` (truncated first)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as target:
            os.dup2(target.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow once with its absl/cuda start-up chatter discarded, and without
    matplotlib: Keras imports matplotlib.pyplot at start-up for its image-gallery helpers, which
    nmtkit never calls, and that costs every command a second or so; nmtkit's own figures
    import matplotlib when they draw (`nmtkit.figures`)."""
    if "tensorflow" in sys.modules:
        return
    hide = "matplotlib" not in sys.modules
    if hide:
        sys.modules["matplotlib"] = None  # `import matplotlib...` raises ImportError meanwhile
    try:
        with native_stderr_to(os.devnull):
            import tensorflow  # noqa: F401
    finally:
        if hide and sys.modules.get("matplotlib", 0) is None:
            del sys.modules["matplotlib"]
