"""`nmtkit preprocess`: a recipe's corpora to prepared data."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from nmtkit.cli.common import RecipeArg, SetOption, reports_errors


@reports_errors
def preprocess(recipe: Path = RecipeArg, set_: Optional[List[str]] = SetOption) -> None:
    """Tokenize and clean the recipe's data, build vocabularies (and embeddings), encode it."""
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess as run

    config = load_recipe(recipe, set_ or [])
    manifest = run(config)
    train, oov = manifest["splits"]["train"], manifest["splits"]["valid"]["oov_rate"]
    typer.echo(
        f"prepared {config.data.prepared}: {train['pairs']} training pairs "
        f"({sum(train['dropped'].values())} dropped), vocab src {manifest['vocab']['src']} "
        f"tgt {manifest['vocab']['tgt']}, validation tokens outside it src {oov['src']}% tgt {oov['tgt']}%",
        err=True,
    )
