"""User-facing errors.

Any problem caused by the user's input (a missing file, a malformed config, a bad list) raises
`CnnlabError`; the CLI turns it into one line on stderr and exit status 2, never a traceback.
"""


class CnnlabError(Exception):
    """A problem with the user's input: reported as one line, exit status 2."""


class ConfigError(CnnlabError, ValueError):
    """An invalid configuration value, YAML file or override."""


class DataError(CnnlabError):
    """Missing, empty or unusable data."""
