"""The ``wfstore`` command line: talk to a wfstored daemon from a shell.

``wfstore`` (or ``python -m wfstore``) runs :func:`main`. The library (``import wfstore``)
never imports this package, so it loads neither click nor rich.
"""

from wfstore.cli.app import main

__all__ = ["main"]
