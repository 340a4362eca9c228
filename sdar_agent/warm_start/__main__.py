"""``python -m sdar_agent.warm_start export SRC DEST``."""

import sys

from sdar_agent.warm_start import main

sys.exit(main())
