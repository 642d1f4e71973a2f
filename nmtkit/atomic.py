"""Writing files and directories so that readers never see them half-written.

Everything is built under a temporary name beside its target and renamed into place when whole.
The temporary names in progress are remembered (`unfinished`), so that a command stopped by a
signal can remove them before it exits (nmtkit.interrupts).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nmtkit.errors import ModelDirError

_unfinished: set[Path] = set()


def remove_unfinished() -> None:
    """Remove every temporary file and folder still being written (for an exit on a signal)."""
    for path in list(_unfinished):
        _remove(path)


def _remove(path: Path) -> None:
    _unfinished.discard(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def staging_dir(target: Path, overwrite: bool) -> Path:
    """A fresh temporary folder beside `target`, after checking `target` may be (re)written."""
    if target.exists() and not overwrite:
        raise ModelDirError(f"{target} already exists (pass --overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    _unfinished.add(staging)
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    return staging


def discard(staging: Path) -> None:
    """Remove a temporary folder or file that will not be published."""
    _remove(staging)


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
        discard(staging)
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
    _unfinished.discard(staging)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path in `path`'s folder to write, renamed over `path` when the block ends
    without error (and removed when it fails). Its name ends like `path`'s, as Keras wants."""
    tmp = path.with_name(f".partial.{path.name}")
    _unfinished.add(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
        _unfinished.discard(tmp)
    except BaseException:
        _remove(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file under a temporary name in the same folder, then rename it over `path`."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
