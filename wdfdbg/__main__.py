"""``python -m wdfdbg COMMAND ARGS``: the same as the ``wdfdbg`` console script."""

import sys

from wdfdbg.cli import main

if __name__ == "__main__":
    sys.exit(main())
