"""`python -m mca_core ...`: see `mca_core.cli`."""

import sys

from .cli import main

sys.exit(main())
