"""``python -m wfstore``: the ``wfstore`` command line."""

from wfstore.cli.app import run

run()
