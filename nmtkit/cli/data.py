"""`nmtkit data`: fetch or generate corpora, install WordNet (never imports TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmtkit.cli.common import reports_errors

data_app = typer.Typer(help="Fetch or generate corpora.", no_args_is_help=True)


@data_app.command("multi30k", epilog="Examples:\n\n\b\n  nmtkit data multi30k data/multi30k\n"
                                      "  nmtkit data multi30k data/multi30k --from ~/corpora/multi30k\n")
@reports_errors
def data_multi30k(
    dest: Path = typer.Argument(Path("data/multi30k"), metavar="DIR", help="Folder to write the corpus to."),
    source: Optional[Path] = typer.Option(None, "--from", metavar="DIR",
                                          help="Copy from this local folder instead of downloading."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Download (or copy) Multi30k task 1, de/en raw text.

    The splits train, val and test_2016_flickr.
    """
    from nmtkit.data.corpora import fetch_multi30k

    files = fetch_multi30k(dest, source, overwrite)
    typer.echo(f"wrote {len(files)} files to {dest}", err=True)


@data_app.command("dates", epilog="Example:\n\n\b\n  nmtkit data dates data/demo\n")
@reports_errors
def data_dates(
    dest: Path = typer.Argument(Path("data/demo"), metavar="DIR", help="Folder to write the task to."),
    seed: int = typer.Option(7, "--seed", metavar="N", help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Generate the demo task: English dates to ISO 8601.

    20,000 training pairs, 1,000 validation and 1,000 test.
    """
    from nmtkit.data.corpora import make_dates

    make_dates(dest, seed=seed, overwrite=overwrite)
    typer.echo(f"wrote the dates task to {dest}", err=True)


@data_app.command("wordnet", epilog="Examples:\n\n\b\n  nmtkit data wordnet\n"
                                     "  nmtkit data wordnet --from /usr/share/wordnet\n")
@reports_errors
def data_wordnet(
    source: Optional[Path] = typer.Option(
        None, "--from", metavar="DIR", help="A WordNet 3.0 dict folder (e.g. /usr/share/wordnet from Debian's "
                             "wordnet-base and wordnet-sense-index); downloaded by nltk when omitted."),
    dest: Optional[Path] = typer.Option(None, "--dest", metavar="DIR", help="nltk data folder. Default: the one inside "
                                                             "nmtkit's Python environment."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an installed WordNet."),
) -> None:
    """Install WordNet for METEOR's synonym matches."""
    from nmtkit.scoring.wordnet import default_nltk_data, install_wordnet

    target = install_wordnet(dest or default_nltk_data(), source, overwrite)
    typer.echo(f"installed WordNet in {target}", err=True)
