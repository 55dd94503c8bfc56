"""``python -m toyscale``: the command line."""

import sys

from toyscale.cli import main
from toyscale.runner import use_compilation_cache, use_cpu_devices

use_compilation_cache()
use_cpu_devices()
sys.exit(main())
