"""The command line as a person meets it: help that reads at 80 columns, completion, usage errors."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nmtkit.cli import app

NMTKIT = Path(sys.executable).with_name("nmtkit")


def command_paths(group, path: tuple = ()) -> list[tuple]:
    """Every command and group, as the words that name it after `nmtkit`."""
    found = [path]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += command_paths(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda words: " ".join(words) or "nmtkit")
def test_help_fits_the_terminal_and_names_every_option_whole(command, columns):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "…" not in text and "│" not in text  # nothing cut, no box
    assert all(len(line) <= columns for line in text.splitlines()), text
    listed = text.split("Commands:")[1].splitlines() if "Commands:" in text else []
    assert not any(line.rstrip().endswith("...") for line in listed), text  # short help whole
    click_command = typer.main.get_command(app)
    for word in command:
        click_command = click_command.commands[word]
    for parameter in click_command.params:
        for name in parameter.opts if parameter.param_type_name == "option" else ():
            assert name in text, name
    if command and not hasattr(click_command, "commands"):
        assert "Example" in text  # every command ends with an example or two


def test_help_shows_defaults():
    text = " ".join(CliRunner().invoke(app, ["translate", "--help"], env={"COLUMNS": "80"}).stdout.split())
    assert "[default: 10; x>=1]" in text and "[default: 1.0]" in text and "-h, --help" in text


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The installed console script, as a shell runs it (Typer's usage errors pass through main)."""
    return subprocess.run([str(NMTKIT), *args], capture_output=True, text=True,
                          env={**os.environ, **env})


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_completion_names_commands_and_leaves_paths_to_the_shell():
    # Typer detects the shell from the parent processes: bash, here, whatever runs the tests.
    script = subprocess.run(["bash", "-c", f"'{NMTKIT}' --show-completion"], capture_output=True, text=True,
                            check=True).stdout
    assert "complete -o default -F _nmtkit_completion nmtkit" in script  # no reply: paths complete
    words = run(_NMTKIT_COMPLETE="complete_bash", COMP_WORDS="nmtkit tr", COMP_CWORD="1").stdout.split()
    assert words == ["train", "translate"]
    path = run(_NMTKIT_COMPLETE="complete_bash", COMP_WORDS="nmtkit train reci", COMP_CWORD="2")
    assert path.returncode == 0 and not path.stdout.strip()


@pytest.mark.parametrize("args, fragment", [
    (["score", "--no-such-option"], "No such option: --no-such-option"),
    (["translate"], "Missing option '--model'"),
    (["train"], "Missing argument 'RECIPE'"),
    (["average", "m", "-o", "out", "--last", "zero"], "Invalid value for '--last'"),
    (["frobnicate"], "No such command 'frobnicate'"),
])
def test_usage_errors_are_one_line_with_a_help_hint(args, fragment):
    result = run(*args)
    assert result.returncode == 2 and not result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nmtkit: error: "), result.stderr
    assert fragment in lines[0] and "--help`)" in lines[0]
