"""Writing files and directories so that readers never see them half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nmtkit.errors import ModelDirError


def staging_dir(target: Path, overwrite: bool) -> Path:
    """A fresh temporary folder beside `target`, after checking `target` may be (re)written."""
    if target.exists() and not overwrite:
        raise ModelDirError(f"{target} already exists (pass --overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    return staging


@contextmanager
def atomic_dir(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name beside `target`, then move it into place.

    Readers never see a half-written directory: on any error the temporary one is removed and
    whatever stood at `target` before is left untouched.
    """
    target = Path(target)
    staging = staging_dir(target, overwrite)
    try:
        yield staging
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_dir(staging: Path, target: Path) -> None:
    """Move `staging` to `target`, replacing an existing `target` with the shortest possible gap."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file under a temporary name in the same folder, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
