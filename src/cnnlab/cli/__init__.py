"""The `cnnlab` command line: one module per area; each parses arguments and calls the library."""

from cnnlab.cli.app import main

__all__ = ["main"]
