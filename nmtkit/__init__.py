"""nmtkit: recurrent sequence-to-sequence translation from the command line."""

__version__ = "0.1.0"
