"""`nmtkit data`: fetch or generate corpora, install WordNet (never imports TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmtkit.cli.common import reports_errors

data_app = typer.Typer(help="Fetch or generate corpora.", no_args_is_help=True)


@data_app.command("multi30k")
@reports_errors
def data_multi30k(
    dest: Path = typer.Argument(Path("data/multi30k"), help="Folder to write the corpus to."),
    source: Optional[Path] = typer.Option(None, "--from", help="Copy from this local folder instead of downloading."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Multi30k task 1 (de/en raw text: train, val, test_2016_flickr), downloaded or copied."""
    from nmtkit.data.corpora import fetch_multi30k

    files = fetch_multi30k(dest, source, overwrite)
    typer.echo(f"wrote {len(files)} files to {dest}", err=True)


@data_app.command("dates")
@reports_errors
def data_dates(
    dest: Path = typer.Argument(Path("data/demo"), help="Folder to write the task to."),
    seed: int = typer.Option(7, help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Generate the demo task: English dates -> ISO 8601 (train 20k, val 1k, test 1k)."""
    from nmtkit.data.corpora import make_dates

    make_dates(dest, seed=seed, overwrite=overwrite)
    typer.echo(f"wrote the dates task to {dest}", err=True)


@data_app.command("wordnet")
@reports_errors
def data_wordnet(
    source: Optional[Path] = typer.Option(
        None, "--from", help="A WordNet 3.0 dict folder (e.g. /usr/share/wordnet from Debian's "
                             "wordnet-base and wordnet-sense-index); downloaded by nltk when omitted."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="nltk data folder. Default: the one inside "
                                                             "nmtkit's Python environment."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an installed WordNet."),
) -> None:
    """Install WordNet for METEOR's synonym matches."""
    from nmtkit.scoring.wordnet import default_nltk_data, install_wordnet

    target = install_wordnet(dest or default_nltk_data(), source, overwrite)
    typer.echo(f"installed WordNet in {target}", err=True)
