"""`python -m nmtkit.cli`: the `nmtkit` command."""

from nmtkit.cli import main

main()
