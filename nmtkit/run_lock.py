"""One trainer per model directory: an advisory lock file beside it, `.NAME.lock`.

The lock is an flock(2) on that file, so the kernel releases it when its holder dies in any way
(SIGKILL, a crash); the file also says who holds it (pid, host, start time) for the error a
second trainer prints, and for the note of one that takes over from a holder that died without
removing it (power loss, SIGKILL). flock does not reach across NFS: two hosts training into one
shared directory are not caught.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nmtkit.errors import ModelDirError


def lock_path(model_dir: Path) -> Path:
    return model_dir.parent / f".{model_dir.name}.lock"


@contextmanager
def training_lock(model_dir: str | Path, note: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock of `model_dir` for the block; `note` receives a line when a dead holder's
    lock is taken over. A live holder is a ModelDirError naming it."""
    model_dir = Path(model_dir)
    path = lock_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = _acquire(path, model_dir)
    try:
        left = handle.read().strip()
        if left:  # its holder ended without removing it
            note(f"note: took over the lock of {_describe(left)}, which is no longer running")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "command": " ".join(sys.argv)}) + "\n")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: see _acquire
        handle.close()


def _acquire(path: Path, model_dir: Path):
    """Lock `path`, retrying when the file was removed by its last holder between our opening
    and our locking it (a lock on a removed file would guard nothing)."""
    while True:
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read().strip())
            handle.close()
            raise ModelDirError(f"{model_dir} is being trained by {holder}: wait for it to end, or stop it "
                                "(its checkpoints let `--resume` go on)") from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.seek(0)
            return handle
        handle.close()


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on {holder['host']} (started {holder['started']})"
    except (ValueError, KeyError, TypeError):
        return "another process"
