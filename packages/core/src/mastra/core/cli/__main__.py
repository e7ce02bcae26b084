"""``python -m mastra.core.cli`` = ``mastra-ee``."""

import sys

from . import main

sys.exit(main())
