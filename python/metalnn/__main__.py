"""`python -m metalnn`: the same command line as the `metalnn` script (see metalnn/cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
