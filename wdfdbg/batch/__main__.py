"""``python -m wdfdbg.batch`` and ``!py -m wdfdbg.batch``."""

import sys

from wdfdbg.batch import main

if __name__ == "__main__":
    sys.exit(main())
