"""``python -m toyscale``: the command line."""

import sys

from toyscale.cli import console

sys.exit(console())
