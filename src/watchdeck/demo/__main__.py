"""``python -m watchdeck.demo --fleet-only``."""

import sys

from watchdeck.demo.cli import main

sys.exit(main())
