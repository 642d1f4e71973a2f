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


_work_written = False  # see `work_written`


def work_written() -> None:
    """Say that the command has finished and closed everything it writes (stdout is flushed by
    `end_process`). The `nmtkit` process then ends without Python's teardown, which for a
    process that has run TensorFlow takes 0.7-0.9 s on 2 cores (its thread pools, graphs and
    kernels), a fifth of a one-line `translate`. A command run in-process (tests) is unaffected."""
    global _work_written
    _work_written = True


def end_process(code: int) -> None:
    """Exit with `code`: at once after `work_written` and a success, else the usual way."""
    if code == 0 and _work_written:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a reader gone, or a stream closed: the usual way reports it
            sys.exit(code)
        os._exit(0)
    sys.exit(code)


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

# The search settings of `translate` and `export`: keys of the recipe's `translate` section.
BeamOption = typer.Option(None, "--beam", min=1, metavar="N", help="Beam size; 1 = greedy.")
BatchSizeOption = typer.Option(None, "--batch-size", min=1, metavar="N", help="Sentences per batch.")
MaxLengthOption = typer.Option(None, "--max-length", min=1, metavar="N", help="Most output tokens per sentence.")
MaxLengthRatioOption = typer.Option(None, "--max-length-ratio", min=0.0, metavar="R",
                                    help="And at most R x the source tokens; 0 = off.")
MinLengthOption = typer.Option(None, "--min-length", min=0, metavar="N", help="Fewest output tokens per sentence.")
LengthPenaltyOption = typer.Option(None, "--length-penalty", "--alpha", min=0.0, metavar="A",
                                   help="GNMT length normalisation; 0 = off.")
CoveragePenaltyOption = typer.Option(None, "--coverage-penalty", "--beta", min=0.0, metavar="B",
                                     help="GNMT coverage penalty; 0 = off.")
BlockNgramRepeatOption = typer.Option(None, "--block-ngram-repeat", min=0, metavar="N",
                                      help="No N-gram twice in an output; 0 = off.")


def search_overrides(beam, batch_size, max_length, max_length_ratio, min_length, length_penalty,
                     coverage_penalty, block_ngram_repeat, **other_keys) -> dict:
    """The options above as overrides of the recipe's `translate` keys (None: the recipe's)."""
    return dict(beam_size=beam, batch_size=batch_size, max_length=max_length, max_length_ratio=max_length_ratio,
                min_length=min_length, length_penalty=length_penalty, coverage_penalty=coverage_penalty,
                block_ngram_repeat=block_ngram_repeat, **other_keys)
