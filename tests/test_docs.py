"""The documentation is true to the code: every command, option and recipe key is documented,
and the README's links lead somewhere."""

import dataclasses
import re
from pathlib import Path

import typer

from nmtkit.cli import app
from nmtkit.config import Recipe
from nmtkit.task_config import TaskRecipe

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def recipe_keys(recipe_class) -> list[str]:
    return [f"{section.name}.{key.name}" for section in dataclasses.fields(recipe_class)
            for key in dataclasses.fields(section.default_factory())]


def test_every_command_and_option_is_documented():
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    missing = []
    for path, command in commands(typer.main.get_command(app)):
        heading = f"### `nmtkit {' '.join(path)}`"
        if heading not in text:
            missing.append(heading)
            continue
        section = text.split(heading, 1)[1].split("\n### ", 1)[0]
        missing += [f"nmtkit {' '.join(path)} {name}" for p in command.params if p.param_type_name == "option"
                    for name in (*p.opts, *p.secondary_opts) if name not in ("--help", "-h")
                    and not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", section)]
    assert not missing, missing


def test_every_recipe_key_is_documented():
    text = (DOCS / "recipes.md").read_text(encoding="utf-8")
    missing = [key for key in recipe_keys(Recipe) + recipe_keys(TaskRecipe) if f"`{key}`" not in text]
    assert not missing, missing


def test_the_readme_is_a_quick_start_that_links_the_reference():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for command in ("make demo", "nmtkit translate", "nmtkit score", "nmtkit info"):
        assert command in readme
    for markdown in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", markdown.read_text(encoding="utf-8")):
            if not target.startswith("http"):
                assert (markdown.parent / target).exists(), (markdown.name, target)
