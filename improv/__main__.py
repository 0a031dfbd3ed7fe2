"""`python -m improv` runs the command line."""

import sys

from improv.cli import main

sys.exit(main())
