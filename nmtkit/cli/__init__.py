"""The `nmtkit` command: thin Typer commands over the library functions, a module each.

Each command parses its options, calls one function, and maps `NmtkitError` to a one-line
message on stderr and the error's exit code (`common.reports_errors`). TensorFlow is imported
only by the commands that need it, so `--help`, `score` and `data` start fast.
"""

from __future__ import annotations

import typer

from nmtkit import __version__
from nmtkit.cli import average, export, info, plot, preprocess, score, serve, train, translate
from nmtkit.cli.common import end_process
from nmtkit.cli.data import data_app
from nmtkit.cli.task import task_app
from nmtkit.errors import one_line
from nmtkit.interrupts import exit_on_signals, settle

app = typer.Typer(
    help="Recurrent sequence-to-sequence translation: preprocess, train, translate, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Click's plain help: rich's boxed panels cut option names at 80 columns.
    rich_markup_mode=None,
    context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]},
)
app.command("preprocess", epilog=preprocess.EXAMPLES)(preprocess.preprocess)
app.command("train", epilog=train.EXAMPLES)(train.train)
app.command("translate", epilog=translate.EXAMPLES)(translate.translate)
app.command("average", epilog=average.EXAMPLES)(average.average)
app.command("export", epilog=export.EXAMPLES)(export.export)
app.command("plot", epilog=plot.EXAMPLES)(plot.plot)
app.command("info", epilog=info.EXAMPLES)(info.info)
app.command("score", epilog=score.EXAMPLES)(score.score)
app.command("serve", epilog=serve.EXAMPLES)(serve.serve)
app.add_typer(task_app, name="task")
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nmtkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Recurrent sequence-to-sequence translation: preprocess, train, translate, score."""


def main() -> None:
    exit_on_signals()
    try:
        code = app(prog_name="nmtkit", standalone_mode=False)
    except typer.TyperException as exc:  # what the shell's user typed wrong: Typer's usage errors
        # `nmtkit` alone has had its help printed already (Typer itself tells that case by name).
        if type(exc).__name__ != "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx else ""
            typer.echo(f"nmtkit: error: {one_line(exc.format_message(), limit=300)}{hint}", err=True)
        code = exc.exit_code
    finally:
        settle()
    end_process(code if isinstance(code, int) else 0)
