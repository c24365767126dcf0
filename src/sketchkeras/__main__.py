"""`python -m sketchkeras` runs the `sketchkeras` command (see `sketchkeras_cli`)."""

import sys

from sketchkeras_cli import main

if __name__ == "__main__":
    sys.exit(main())
