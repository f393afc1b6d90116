"""The ``edgekd`` command: a thin face over the library; it parses, prints and sets exit codes."""

from edgekd.cli.app import app, main

__all__ = ["app", "main"]
