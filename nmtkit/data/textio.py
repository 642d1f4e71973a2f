"""Reading and writing UTF-8 text corpora (plain or gzipped), with errors that name file and line."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterable, Iterator

from nmtkit.errors import DataError


def find_corpus(root: str | Path, prefix: str, lang: str) -> Path:
    """The file `{root}/{prefix}.{lang}`, plain or with `.gz`; an error names both tried."""
    plain = Path(root) / f"{prefix}.{lang}"
    for candidate in (plain, plain.with_name(plain.name + ".gz")):
        if candidate.is_file():
            return candidate
    raise DataError(f"corpus file {plain} (or {plain}.gz) not found")


def read_lines(path: str | Path) -> list[str]:
    """All lines of a UTF-8 text file, without line ends; a BOM and CRLF are dropped silently."""
    path = Path(path)
    try:
        with _open_binary(path) as handle:
            return decode_lines(handle, str(path))
    except FileNotFoundError:
        raise DataError(f"file {path} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a text file") from None
    except (gzip.BadGzipFile, EOFError) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_parallel(src: Path, tgt: Path) -> tuple[list[str], list[str]]:
    src_lines, tgt_lines = read_lines(src), read_lines(tgt)
    if len(src_lines) != len(tgt_lines):
        raise DataError(
            f"parallel files differ in length: {src} has {len(src_lines)} lines, "
            f"{tgt} has {len(tgt_lines)}"
        )
    return src_lines, tgt_lines


def decode_lines(handle: Iterable[bytes], name: str) -> list[str]:
    return list(iter_decoded(handle, name))


def iter_decoded(handle: Iterable[bytes], name: str) -> Iterator[str]:
    """Decode a binary line stream (a file, or stdin's buffer), naming `name` in errors."""
    for number, raw in enumerate(handle, 1):
        yield _decode(raw, name, number)


def _open_binary(path: Path):
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if is_gzip else open(path, "rb")


def _decode(raw: bytes, path: str, number: int) -> str:
    if b"\x00" in raw:
        raise DataError(f"{path} line {number}: NUL byte, this does not look like a text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} line {number}: invalid UTF-8 at byte {exc.start}") from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    return text.rstrip("\r\n")
