"""The daemon: flags, environment, signals and start-up errors.

It is the only part of wfstored that knows both the storage layer and the RPC layer.

:mod:`~wfstored.daemon.config` reads the configuration, :mod:`~wfstored.daemon.stores` opens
the stores it names, :mod:`~wfstored.daemon.protection` loads TLS and tokens, and
:mod:`~wfstored.daemon.main` serves until SIGTERM or SIGINT.
"""

from wfstored.daemon.main import main

__all__ = ["main"]
