"""``python -m toyscale``: the command line."""

from toyscale.cli import entry

entry()
