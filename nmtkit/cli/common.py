"""What every command shares: user errors as one line and an exit code, the recipe arguments."""

from __future__ import annotations

import functools
import os
import sys
import time

import typer

from nmtkit.errors import NmtkitError, StorageError

STARTED = time.monotonic()  # train's wall-clock budget counts from here, imports included
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs are noise to users

RecipeArg = typer.Argument(..., metavar="RECIPE", help="Recipe YAML file (see recipes/).")
SetOption = typer.Option(None, "--set", metavar="KEY=VALUE",
                         help="Override a recipe key: section.key=value (repeatable).")


def fail(message: str, code: int, kind: str = "error") -> typer.Exit:
    typer.echo(f"nmtkit: {kind}: {message}", err=True)
    return typer.Exit(code)


def reports_errors(command):
    """Turn user errors into one line on stderr and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NmtkitError as exc:
            raise fail(str(exc), exc.exit_code, exc.kind) from None
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
            sys.stderr.close()
            raise typer.Exit(0) from None
        except OSError as exc:  # what nmtkit did not foresee: a full disk, a read-only folder, ...
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}", StorageError.exit_code) from None

    return wrapper


QuietOption = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")
