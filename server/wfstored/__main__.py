"""``python -m wfstored``: the same as the ``wfstored`` command."""

import sys

from wfstored._main import main

sys.exit(main())
