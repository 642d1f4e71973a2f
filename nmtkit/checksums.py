"""SHA-256 checksums of the files of a model directory or checkpoint, so that a truncated or
bit-flipped file is reported instead of loaded.

`checksums.sha256` is in `sha256sum`'s format: `sha256sum -c checksums.sha256` checks a copy too.
A folder without one (written before nmtkit kept checksums) is read unchecked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO, Iterable

from nmtkit.atomic import write_text_atomic
from nmtkit.errors import ModelDirError

CHECKSUMS = "checksums.sha256"


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return stream_digest(handle)


def stream_digest(handle: BinaryIO) -> str:
    return hashlib.file_digest(handle, "sha256").hexdigest()


def damaged(path: Path) -> ModelDirError:
    return ModelDirError(f"{path} is damaged: its checksum differs from the one recorded in "
                         f"{CHECKSUMS} (truncated or corrupted)")


def format_checksums(digests: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))


def write_checksums(folder: Path, names: Iterable[str]) -> None:
    """Record the digests of `names` (files in `folder`) in `folder/checksums.sha256`."""
    write_text_atomic(folder / CHECKSUMS, format_checksums({name: file_digest(folder / name) for name in names}))


def read_checksums(folder: Path) -> dict[str, str] | None:
    """File name -> digest recorded in `folder`; None when the folder records none."""
    try:
        text = (folder / CHECKSUMS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{folder / CHECKSUMS}: unreadable ({exc})") from None
    digests = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise ModelDirError(f"{folder / CHECKSUMS} line {number}: not a sha256sum line")
        digests[name] = digest
    return digests


def verify_checksums(folder: Path, skip: Iterable[str] = ()) -> dict[str, str] | None:
    """Check every file `folder` records a digest of (but those in `skip`); raises ModelDirError
    naming the first missing or damaged file. Returns the recorded digests (None: none kept)."""
    digests = read_checksums(folder)
    for name, digest in (digests or {}).items():
        if name in skip:
            continue
        path = folder / name
        if not path.is_file():
            raise ModelDirError(f"{path} is missing")
        if file_digest(path) != digest:
            raise damaged(path)
    return digests
