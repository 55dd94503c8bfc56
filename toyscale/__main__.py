"""``python -m toyscale``: the command line."""

import sys

from toyscale.cli import main
from toyscale.runner import use_compilation_cache, use_cpu_devices

use_compilation_cache()
try:
    use_cpu_devices()
except ValueError as err:  # a bad $TOYSCALE_CPU_DEVICES: a usage error, not a traceback
    print(f"toyscale: error: {err}", file=sys.stderr)
    sys.exit(2)
sys.exit(main())
