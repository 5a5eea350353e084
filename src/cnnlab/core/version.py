"""The cnnlab version: part of every run id, so runs of another version are never mixed in."""

__version__ = "0.2.0"
