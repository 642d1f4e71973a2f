"""User-facing errors: each carries a one-line message and the exit code the CLI returns.

Only `nmtkit.cli` catches these; library code raises them where the problem is found, saying what
was wrong and where (file, line, recipe key) so that the message alone lets the user fix it.
"""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """Another library's error message, which may run over many lines, as a short single line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class NmtkitError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 1
    kind = "error"  # the word after `nmtkit: ` in the message


class RecipeError(NmtkitError):
    """A recipe file or a --set override is malformed or has a bad value."""

    exit_code = 78  # EX_CONFIG


class DataError(NmtkitError):
    """Input text is missing, unreadable, not UTF-8, or parallel files disagree."""

    exit_code = 65  # EX_DATAERR


class ModelDirError(NmtkitError):
    """A directory given as a model (or prepared data) is not one, or would be clobbered."""

    exit_code = 66  # EX_NOINPUT


class UsageError(NmtkitError):
    """A command-line option has a value the command does not accept."""

    exit_code = 2  # as click's own usage errors


class TrainingDiverged(NmtkitError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 70  # EX_SOFTWARE


class StorageError(NmtkitError):
    """A file or directory could not be written (disk full, read-only, no permission); what was
    there before is left intact."""

    exit_code = 74  # EX_IOERR
