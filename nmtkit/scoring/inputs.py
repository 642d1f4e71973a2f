"""Reading what `nmtkit score` compares, with one-line errors naming the file that is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Sequence

from nmtkit.data.textio import decode_lines, read_lines
from nmtkit.errors import DataError


def read_score_inputs(hyp_paths: Sequence[Path] | None, ref_paths: Sequence[Path],
                      src_path: Path | None, plot: Path | None, stdin: BinaryIO):
    """Systems (name, lines), reference sets, and the sentence lengths to bucket BLEU by: source
    lengths with `src_path`, reference lengths when only a plot asks, else None."""
    if plot is not None and not plot.parent.is_dir():
        raise DataError(f"cannot write {plot}: folder {plot.parent} does not exist")
    refs = read_references(ref_paths)
    systems = ([(str(path), read_lines(path)) for path in hyp_paths] if hyp_paths
               else [("<stdin>", decode_lines(stdin, "<stdin>"))])
    for name, lines in systems:
        check_aligned(lines, name, refs, ref_paths[0])
    lengths = None
    if src_path is not None:
        sources = read_lines(src_path)
        check_aligned(sources, str(src_path), refs, ref_paths[0])
        lengths = ("source", [len(line.split()) for line in sources])
    elif plot is not None:
        lengths = ("reference", [len(line.split()) for line in refs[0]])
    return systems, refs, lengths


def read_references(paths: Sequence[Path]) -> list[list[str]]:
    """One list of lines per reference file; all of the same, non-zero length."""
    refs = [read_lines(path) for path in paths]
    for path, lines in zip(paths, refs):
        if not lines:
            raise DataError(f"reference {path} is empty")
        if len(lines) != len(refs[0]):
            raise DataError(
                f"reference {path} has {len(lines)} lines but reference {paths[0]} has {len(refs[0])}"
            )
    return refs


def check_aligned(lines: Sequence[str], name: str, refs: Sequence[Sequence[str]], ref_name: Path) -> None:
    """`lines` (hypotheses or sources) must pair line by line with the references."""
    if len(lines) != len(refs[0]):
        raise DataError(f"{name} has {len(lines)} lines but reference {ref_name} has {len(refs[0])}")
