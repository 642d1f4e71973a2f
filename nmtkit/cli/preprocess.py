"""`nmtkit preprocess`: a recipe's corpora to prepared data."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import QuietOption, RecipeArg, SetOption, reports_errors


EXAMPLES = """Examples:

\b
  nmtkit preprocess recipes/demo-dates.yaml
  nmtkit preprocess recipes/multi30k-de-en.yaml --set vocab.size=8000
"""


@reports_errors
def preprocess(recipe: Path = RecipeArg, set_: Optional[List[str]] = SetOption, quiet: bool = QuietOption) -> None:
    """Tokenize and encode a recipe's data; build vocabularies.

    Cleans the corpora, trains sentencepiece models and embeddings where the recipe asks, and
    writes everything `train` reads to data.prepared.
    """
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess as run
    from nmtkit.progress import WorkProgress

    config = load_recipe(recipe, set_ or [])
    with WorkProgress(quiet) as progress:
        manifest = run(config, progress=progress)
    train, oov = manifest["splits"]["train"], manifest["splits"]["valid"]["oov_rate"]
    typer.echo(
        f"prepared {config.data.prepared}: {train['pairs']} training pairs "
        f"({sum(train['dropped'].values())} dropped), vocab src {manifest['vocab']['src']} "
        f"tgt {manifest['vocab']['tgt']}, validation tokens outside it src {oov['src']}% tgt {oov['tgt']}%",
        err=True,
    )
