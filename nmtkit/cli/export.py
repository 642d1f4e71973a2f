"""`nmtkit export`: a model (or an ensemble) as a self-contained TensorFlow SavedModel."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import (BatchSizeOption, BeamOption, BlockNgramRepeatOption, CoveragePenaltyOption,
                               LengthPenaltyOption, MaxLengthOption, MaxLengthRatioOption, MinLengthOption,
                               reports_errors, search_overrides)
from nmtkit.native_stderr import import_tensorflow_quietly

EXAMPLES = """Examples:

\b
  nmtkit export runs/demo-dates/model runs/demo-dates/saved
  nmtkit export -m A -m B runs/saved-ensemble   # one SavedModel of both
  saved_model_cli show --dir runs/demo-dates/saved --all
"""


@reports_errors
def export(
    paths: List[Path] = typer.Argument(..., metavar="PATH",
                                       help="MODEL_DIR OUT_DIR: the model, then the SavedModel folder to write "
                                            "(OUT_DIR alone with -m)."),
    model: Optional[List[Path]] = typer.Option(None, "--model", "-m", metavar="DIR",
                                               help="Model directory; repeat to export an ensemble."),
    beam: Optional[int] = BeamOption,
    batch_size: Optional[int] = BatchSizeOption,
    max_length: Optional[int] = MaxLengthOption,
    max_length_ratio: Optional[float] = MaxLengthRatioOption,
    min_length: Optional[int] = MinLengthOption,
    length_penalty: Optional[float] = LengthPenaltyOption,
    coverage_penalty: Optional[float] = CoveragePenaltyOption,
    block_ngram_repeat: Optional[int] = BlockNgramRepeatOption,
    replace_unk: Optional[bool] = typer.Option(None, "--replace-unk/--no-replace-unk",
                                               help="Replace <unk> by the most-attended source piece (not exported)."),
    precision: str = typer.Option("float32", "--precision", metavar="P",
                                  help="float32 | bfloat16: the arithmetic frozen into the graph."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT_DIR."),
) -> None:
    """Export a model as a self-contained TensorFlow SavedModel.

    Its serving_default signature maps `text` (string [batch]) to `translation` and
    `log_prob`, with the tokenizer, vocabularies, encoder and search (the recipe's `translate`
    settings, or the options here) inside the graph; `translate_ids` maps token ids to token
    ids. Load it with tensorflow and tensorflow_text only (no nmtkit).
    """
    from nmtkit.errors import UsageError

    if model:
        if len(paths) != 1:
            raise UsageError("with --model, give only OUT_DIR")
        model_dirs, out_dir = model, paths[0]
    elif len(paths) == 2:
        model_dirs, out_dir = paths[:1], paths[1]
    else:
        raise UsageError("give MODEL_DIR OUT_DIR, or -m MODEL_DIR [-m ...] OUT_DIR")
    if precision not in ("float32", "bfloat16"):
        raise UsageError(f"--precision must be float32 or bfloat16, got {precision!r}")
    import_tensorflow_quietly()
    from nmtkit.export import IDS_SIGNATURE, export as export_model

    overrides = search_overrides(beam, batch_size, max_length, max_length_ratio, min_length, length_penalty,
                                 coverage_penalty, block_ngram_repeat, replace_unk=replace_unk, precision=precision)
    signatures = export_model(model_dirs, out_dir, overrides, overwrite)
    if signatures == [IDS_SIGNATURE]:
        typer.echo(f"note: Moses word level cannot be tokenized in a graph: {out_dir} has the "
                   f"{IDS_SIGNATURE} signature only (token ids; vocabularies in {out_dir}/assets.extra)", err=True)
    typer.echo(f"wrote {out_dir}: signatures {', '.join(signatures)}", err=True)
