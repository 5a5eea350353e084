"""`python -m cnnlab` is the same as the `cnnlab` command."""

import sys

from cnnlab.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
