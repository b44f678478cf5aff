"""``python -m wfstored``: the same as the ``wfstored`` command."""

import sys

from wfstored.daemon.main import main

sys.exit(main())
