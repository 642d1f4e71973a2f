"""Reading and writing UTF-8 text corpora (plain or gzipped), with errors that name file and line."""

from __future__ import annotations

import gzip
import zlib
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
    return list(iter_lines(path))


def iter_lines(path: str | Path) -> Iterator[str]:
    """The lines of a UTF-8 text file (plain or gzipped), streamed; errors name file and line."""
    path = Path(path)
    try:
        with _open_binary(path) as handle:
            yield from iter_decoded(handle, str(path))
    except FileNotFoundError:
        raise DataError(f"file {path} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a text file") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def iter_parallel(src: Path, tgt: Path) -> Iterator[tuple[str, str]]:
    """Line pairs of two parallel files, streamed; files of different length are an error
    (raised when the shorter one ends)."""
    src_lines, tgt_lines = iter_lines(src), iter_lines(tgt)
    count = 0
    for s in src_lines:
        t = next(tgt_lines, None)
        if t is None:
            raise _length_error(src, count + 1 + sum(1 for _ in src_lines), tgt, count)
        count += 1
        yield s, t
    rest = sum(1 for _ in tgt_lines)
    if rest:
        raise _length_error(src, count, tgt, count + rest)


def _length_error(src: Path, src_count: int, tgt: Path, tgt_count: int) -> DataError:
    return DataError(f"parallel files differ in length: {src} has {src_count} lines, {tgt} has {tgt_count}")


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
